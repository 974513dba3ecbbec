using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;

namespace MLNetExtensions.Core.Inference;

/// <summary>
/// The persistence-version-1 description of an image classifier (model zips and ExCP model cards written before the
/// model contract). Read only: it converts to a <see cref="ModelDescription"/>.
/// </summary>
public sealed record ImageClassifierDescription(
    string Architecture, string ConfigJson, int NumClasses, string InputColumn, int Channels, int Height, int Width,
    bool InputIsVector, int SourceChannels, string[] ClassNames, float[] Mean, float[] Std,
    string ScoreColumn = "Score", string PredictedLabelColumn = "PredictedLabel")
{
    /// <summary>The same model as a version-2 description.</summary>
    public ModelDescription ToModelDescription() =>
        new(ModelTasks.Classifier, Architecture, ConfigJson, NumClasses, ClassNames,
            new InputSpec[]
            {
                new ImageInputSpec(InputColumn, TorchNetwork.InputSlot, Channels)
                    { Height = Height, Width = Width, IsVector = InputIsVector, SourceChannels = SourceChannels, Mean = Mean, Std = Std, Resolved = true },
            },
            ClassifierOutputs.For(NumClasses, ScoreColumn, PredictedLabelColumn)) { Version = 1 };
}
