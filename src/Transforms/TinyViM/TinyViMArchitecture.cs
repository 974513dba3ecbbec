using System.Text.Json;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.TinyViM;

/// <summary>
/// What a saved TinyViM classifier needs to rebuild its network: the config, whether it has the distillation head,
/// and whether its weights are in the folded deploy form.
/// </summary>
public sealed record TinyViMArchitecture(TinyViMConfig Config, bool Distillation, bool Deployed) : MLNetExtensions.Core.Models.IModelArchitecture
{
    string MLNetExtensions.Core.Models.IModelArchitecture.ArchitectureName => Name;

    /// <summary>Name in <see cref="Core.Inference.TorchModelRegistry"/>.</summary>
    public const string Name = "tinyvim";

    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>Builds the network for a saved spec (deploy form first, so folded weights load).</summary>
    public static nn.Module<Tensor, Tensor> Build(string json, int numClasses)
    {
        var spec = JsonSerializer.Deserialize<TinyViMArchitecture>(json) ?? throw new InvalidDataException("Empty TinyViM architecture spec.");
        var model = new TinyViMModel(spec.Config, numClasses, spec.Distillation);
        if (spec.Deployed) model.SwitchToDeploy();
        return model;
    }
}
