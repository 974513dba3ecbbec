using MLNetExtensions.Core.Models;

namespace MLNetExtensions.Core.Inference;

/// <summary>The output columns of a multiclass classifier: class probabilities and the predicted key.</summary>
public static class ClassifierOutputs
{
    /// <summary><c>Score</c> (softmax of the logits, with ML.NET's multiclass annotations) and <c>PredictedLabel</c> (key with the class names).</summary>
    public static OutputSpec[] For(int classes, string scoreColumn, string predictedLabelColumn) => new[]
    {
        new OutputSpec(scoreColumn, OutputKind.Scores, TorchNetwork.LogitsSlot)
            { Shape = new[] { classes }, Classes = classes, Activation = OutputActivation.Softmax, ClassAnnotations = true },
        new OutputSpec(predictedLabelColumn, OutputKind.ArgmaxKey, TorchNetwork.LogitsSlot) { Classes = classes, Activation = OutputActivation.Softmax, ClassAnnotations = true },
    };
}
