using MLNetExtensions.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Training;

/// <summary>
/// How periodic training checkpoints are stored, when not as the default uncompressed folder
/// (<see cref="TrainingCheckpointStore"/>): e.g. ExCP chains (<c>MLNetExtensions.Transforms.Excp.ExcpOptions</c>).
/// Set it as <see cref="TorchTrainerOptions.CheckpointFormat"/>; the trainer template hands it the model description so
/// a format that can serve its checkpoints (ExCP) stores what rebuilds the network.
/// </summary>
public interface ICheckpointFormat
{
    /// <summary>Throws, naming the option, when the format's settings are invalid.</summary>
    void Validate();
    /// <summary>The store for <paramref name="checkpointDirectory"/>; <paramref name="resume"/> = false starts afresh.</summary>
    ITrainingCheckpointStore Open(string checkpointDirectory, bool resume);
    /// <summary>Records what rebuilds the network being trained (called once, before training).</summary>
    void DescribeModel(string checkpointDirectory, ModelDescription description, nn.Module network);
}
