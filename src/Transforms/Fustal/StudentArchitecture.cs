using System.Text.Json;
using MLNetExtensions.Core.Models;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>Seconds ↔ feature grid of the student (see <see cref="StudentGrid"/>): features of <paramref name="Window"/> frames every <paramref name="Stride"/> frames at <paramref name="Fps"/>.</summary>
/// <param name="Fps">Video frame rate (official: per video from the annotation, ≈30 on THUMOS).</param>
/// <param name="Stride">Frames between features (official 4).</param>
/// <param name="Window">Frames per feature (official 16).</param>
public sealed record StudentGridSpec(double Fps = 30, double Stride = 4, double Window = 16)
{
    /// <summary>Grid position of a time.</summary>
    public double ToGrid(double seconds) => StudentGrid.ToGrid(seconds, Fps, Stride, Window);
    /// <summary>Time of a grid position.</summary>
    public double ToSeconds(double grid) => StudentGrid.ToSeconds(grid, Fps, Stride, Window);
    /// <summary>Duration of a video of <paramref name="length"/> features.</summary>
    public double Duration(long length) => length * Stride / Fps;

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!(Fps > 0) || !(Stride > 0) || !(Window >= 0)) throw new ArgumentOutOfRangeException(nameof(Fps), "Grid Fps and Stride must be > 0, Window ≥ 0.");
    }
}

/// <summary>What a saved FuSTAL student needs: the TriDet config, the inference settings and the time grid.</summary>
/// <param name="Config">Network (its class count replaced by the data's).</param>
/// <param name="Inference">Post-processing (note §5.3).</param>
/// <param name="Grid">Seconds ↔ grid.</param>
public sealed record StudentArchitecture(TriDetConfig Config, TriDetInferenceOptions Inference, StudentGridSpec Grid) : IModelArchitecture
{
    string IModelArchitecture.ArchitectureName => Name;

    /// <summary>Name in <see cref="TorchModelRegistry"/>.</summary>
    public const string Name = "fustal-tridet-student";

    /// <summary>Builds the network of a saved record.</summary>
    public static TorchNetwork Build(string json, int numClasses) =>
        TorchNetwork.Named(new TriDetStudent(Parse(json).Config with { NumClasses = numClasses }));

    /// <summary>Reads a record from its JSON.</summary>
    public static StudentArchitecture Parse(string json) =>
        JsonSerializer.Deserialize<StudentArchitecture>(json) ?? throw new InvalidDataException("Empty FuSTAL student architecture record.");
}
