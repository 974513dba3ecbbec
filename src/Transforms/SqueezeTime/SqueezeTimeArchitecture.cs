using System.Text.Json;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.SqueezeTime;

/// <summary>
/// What a saved SqueezeTime video classifier needs to rebuild its network: the config, the clip geometry of its
/// flat input vector (T×C×H×W, frame-major as <c>VideoFrameDecoder</c> writes it) and the pixel normalisation.
/// </summary>
/// <param name="Config">Backbone and head configuration (its class count is replaced by the data's).</param>
/// <param name="Height">Frame height H.</param>
/// <param name="Width">Frame width W.</param>
/// <param name="PixelMean">Per-colour mean on 0–255 pixels (official mmaction values by default).</param>
/// <param name="PixelStd">Per-colour std on 0–255 pixels.</param>
public sealed record SqueezeTimeArchitecture(SqueezeTimeConfig Config, int Height, int Width, float[] PixelMean, float[] PixelStd) : MLNetExtensions.Core.Models.IModelArchitecture
{
    string MLNetExtensions.Core.Models.IModelArchitecture.ArchitectureName => Name;

    /// <summary>Name in <see cref="Core.Inference.TorchModelRegistry"/>.</summary>
    public const string Name = "squeezetime-video";

    /// <summary>Floats per clip (T·C·H·W).</summary>
    public int ClipSize => Config.Frames * Config.ImageChannels * Height * Width;

    /// <summary>Serialises the spec.</summary>
    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>Builds the network for a saved spec.</summary>
    public static nn.Module<Tensor, Tensor> Build(string json, int numClasses)
    {
        var spec = JsonSerializer.Deserialize<SqueezeTimeArchitecture>(json) ?? throw new InvalidDataException("Empty SqueezeTime architecture spec.");
        return new SqueezeTimeVideoNetwork(spec with { Config = spec.Config with { NumClasses = numClasses } });
    }
}
