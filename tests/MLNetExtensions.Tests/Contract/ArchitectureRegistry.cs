using MLNetExtensions.Core.Models;
using MLNetExtensions.Transforms.Baselines;
using MLNetExtensions.Transforms.GeminiFusion;
using MLNetExtensions.Transforms.Segmentation;
using MLNetExtensions.Transforms.Slab;
using MLNetExtensions.Transforms.SqueezeTime;
using MLNetExtensions.Transforms.TinyViM;
using MLNetExtensions.Transforms.Ssa;

namespace MLNetExtensions.Tests.Contract;

/// <summary>A tiny configuration of one registered family and the input shapes (without batch) of its forward slots.</summary>
/// <param name="Name">Case name; its state-dict snapshot is <c>Snapshots/{Name}.txt</c>.</param>
/// <param name="Architecture">The typed record (its <c>ArchitectureName</c> is the registry name).</param>
/// <param name="Classes">Classes.</param>
/// <param name="Inputs">Slot → per-row shape.</param>
/// <param name="NotInForward">Parameter-name prefixes a plain forward does not use (training-loss-only or officially unused).</param>
public sealed record ArchitectureCase(string Name, IModelArchitecture Architecture, int Classes, Dictionary<string, long[]> Inputs, string[]? NotInForward = null,
    Dictionary<string, long[]>? TokenInputs = null, long Vocab = 2)
{
    public override string ToString() => Name;
}

/// <summary>
/// One entry per registered architecture family; <see cref="ArchitectureContractTests"/> fails when a registered family
/// has no case, so a new family gets the forward/backward and state-dict checks by adding one line here.
/// </summary>
public static class ArchitectureRegistry
{
    private static Dictionary<string, long[]> Image(int c, int h, int w) => new() { [TorchNetwork.InputSlot] = new long[] { c, h, w } };

    public static readonly ArchitectureCase[] All =
    {
        new("SimpleConvNet", new SimpleConvNetConfig(3, 4, 2), 5, Image(3, 16, 16)),
        new("tinyvim-micro", new TinyViMArchitecture(TinyViMConfig.Micro, false, false), 5, Image(3, 32, 32)),
        new("tinyvim-micro-deployed", new TinyViMArchitecture(TinyViMConfig.Micro, false, true), 5, Image(3, 32, 32)),
        new("slab-deit-nano", new SlabArchitecture(SlabFamily.DeiT, SlabArchitecture.DeitVariant("nano") with { ImgSize = 16, NumClasses = 5 }, null, false), 5, Image(3, 16, 16),
            NotInForward: new[] { "cls_token" }), // official: kept for checkpoint keys, never used in forward
        new("slab-swin-nano", new SlabArchitecture(SlabFamily.Swin, null, SlabArchitecture.SwinVariant("nano") with { ImgSize = 16, NumClasses = 5 }, false), 5, Image(3, 16, 16)),
        new("ssa-segnet", new SsaSegmentationNetworkConfig(new ConvPyramidConfig(new[] { 8, 8, 8, 8 }), 8, SegmentationHeadKind.Ssa), 4, Image(3, 32, 32),
            NotInForward: new[] { "decode_head.head.gt_" }), // ground-truth prototype branch: only in the training loss
        new("ssa-segnet-plain", new SsaSegmentationNetworkConfig(new ConvPyramidConfig(new[] { 8, 8, 8, 8 }), 8, SegmentationHeadKind.Plain), 4, Image(3, 32, 32)),
        new("squeezetime-tiny", new SqueezeTimeArchitecture(SqueezeTimeConfig.Tiny(numClasses: 4, frames: 8), 32, 32, SqueezeTimeConfig.PixelMean.ToArray(), SqueezeTimeConfig.PixelStd.ToArray()),
            4, new() { [TorchNetwork.InputSlot] = new long[] { 8, 3, 32, 32 } }),
        new("geminifusion-tiny", new GeminiFusionArchitecture(MitConfig.Tiny, 2, 16, 32, 32), 4,
            new() { [GeminiFusionArchitecture.Slot(0)] = new long[] { 3, 32, 32 }, [GeminiFusionArchitecture.Slot(1)] = new long[] { 1, 32, 32 } }),
        new("textreward-preference-tiny", new MLNetExtensions.Transforms.Rlhf.RewardModels.TextRewardModelArchitecture(
                MLNetExtensions.Transforms.Rlhf.RewardModels.TextRewardModelKind.Preference, 24, DModel: 16, Layers: 1, Heads: 2, FfnDim: 32, MaxPositions: 16), 0,
            new(), TokenInputs: new() { ["prompt"] = new long[] { 6 }, ["prompt.mask"] = new long[] { 6 }, ["response"] = new long[] { 8 }, ["response.mask"] = new long[] { 8 } },
            Vocab: 24),
        new("minivlm-tiny", new MLNetExtensions.Transforms.VisionLanguage.MiniVlmConfig(27, DModel: 16, Layers: 1, Heads: 2, MaxPositions: 24), 0,
            new() { [MLNetExtensions.Transforms.VisionLanguage.MiniVlm.ImageSlot] = new long[] { 1, 56, 56 } }),
        new("fustal-cola-teacher", new MLNetExtensions.Transforms.Fustal.CoLATeacherArchitecture(
                new MLNetExtensions.Transforms.Fustal.CoLAConfig(FeatureDim: 8, NumClasses: 3, EmbedDim: 16, RHard: 5), 20, new MLNetExtensions.Transforms.Fustal.ProposalOptions()),
            3, new() { [MLNetExtensions.Transforms.Fustal.CoLATeacherNetwork.FeaturesSlot] = new long[] { 25, 8 } }),
        new("fustal-tridet-student", new MLNetExtensions.Transforms.Fustal.StudentArchitecture(
                new MLNetExtensions.Transforms.Fustal.TriDetConfig(FeatureDim: 8, NumClasses: 3, EmbedDim: 16, MlpDim: 16, NumLevels: 3, StemBlocks: 1, NumBins: 4, HeadDim: 16, HeadLayers: 1),
                new MLNetExtensions.Transforms.Fustal.TriDetInferenceOptions(), new MLNetExtensions.Transforms.Fustal.StudentGridSpec(25, 16, 16)),
            3, new() { [MLNetExtensions.Transforms.Fustal.TriDetStudent.FeaturesSlot] = new long[] { 25, 8 } }),
    };

    public static IEnumerable<object[]> Cases => All.Select(c => new object[] { c });
}
