using System.Text.Json;
using System.Runtime.CompilerServices;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Transforms.Baselines;
using MLNetExtensions.Transforms.GeminiFusion;
using MLNetExtensions.Transforms.Segmentation;
using MLNetExtensions.Transforms.Slab;
using MLNetExtensions.Transforms.SqueezeTime;
using MLNetExtensions.Transforms.TinyViM;
using MLNetExtensions.Transforms.Ssa;

namespace MLNetExtensions;

/// <summary>
/// Every model family's registration with <see cref="TorchModelRegistry"/> (architecture name → factory). Runs as this
/// assembly's module initializer, so the registry is filled before any family type (an architecture record, a network)
/// can be used — no estimator or loader has to remember a registration call.
/// </summary>
internal static class ModelFamilies
{
    [ModuleInitializer]
    internal static void RegisterAll()
    {
        foreach (var register in All) register();
    }

    private static readonly Action[] All =
    {
        () => TorchModelRegistry.Register(SimpleConvNet.Architecture,
            (json, classes) => new SimpleConvNet(JsonSerializer.Deserialize<SimpleConvNetConfig>(json)!, classes)),
        () => TorchModelRegistry.Register(TinyViMArchitecture.Name, TinyViMArchitecture.Build),
        () => TorchModelRegistry.Register(SlabArchitecture.Name, SlabArchitecture.Build),
        () => TorchModelRegistry.Register(SsaSegmentationNetwork.Architecture, SsaSegmentationNetwork.Build),
        () => TorchModelRegistry.Register(SqueezeTimeArchitecture.Name, SqueezeTimeArchitecture.Build),
        () => TorchModelRegistry.RegisterNetwork(GeminiFusionArchitecture.Name, GeminiFusionArchitecture.Build),
        () => TorchModelRegistry.RegisterNetwork(Transforms.Rlhf.RewardModels.TextRewardModelArchitecture.Name, Transforms.Rlhf.RewardModels.TextRewardModelArchitecture.Build),
        () => TorchModelRegistry.RegisterNetwork(Transforms.VisionLanguage.MiniVlmConfig.Name, (json, _) =>
            TorchNetwork.Named(new Transforms.VisionLanguage.MiniVlm(JsonSerializer.Deserialize<Transforms.VisionLanguage.MiniVlmConfig>(json)!))),
        () => TorchModelRegistry.RegisterNetwork(Transforms.Fustal.CoLATeacherArchitecture.Name, Transforms.Fustal.CoLATeacherArchitecture.Build),
        () => TorchModelRegistry.RegisterNetwork(Transforms.Fustal.StudentArchitecture.Name, Transforms.Fustal.StudentArchitecture.Build),
    };
}
