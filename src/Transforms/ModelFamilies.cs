using System.Text.Json;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Transforms.Baselines;
using MLNetExtensions.Transforms.Segmentation;
using MLNetExtensions.Transforms.Slab;
using MLNetExtensions.Transforms.SqueezeTime;
using MLNetExtensions.Transforms.TinyViM;

namespace MLNetExtensions;

/// <summary>Every model family's registration with <see cref="TorchModelRegistry"/> (architecture name → factory).</summary>
internal static class ModelFamilies
{
    internal static readonly Action[] All =
    {
        () => TorchModelRegistry.Register(SimpleConvNet.Architecture,
            (json, classes) => new SimpleConvNet(JsonSerializer.Deserialize<SimpleConvNetConfig>(json)!, classes)),
        () => TorchModelRegistry.Register(TinyViMArchitecture.Name, TinyViMArchitecture.Build),
        () => TorchModelRegistry.Register(SlabArchitecture.Name, SlabArchitecture.Build),
        () => TorchModelRegistry.Register(SsaSegmentationNetwork.Architecture, SsaSegmentationNetwork.Build),
        () => TorchModelRegistry.Register(SqueezeTimeArchitecture.Name, SqueezeTimeArchitecture.Build),
    };
}
