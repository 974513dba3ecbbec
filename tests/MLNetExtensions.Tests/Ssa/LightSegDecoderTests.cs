using MLNetExtensions.Transforms.Ssa;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Segmentation;

namespace MLNetExtensions.Tests.Ssa;

public class LightSegDecoderTests
{
    private static readonly int[] InChannels = { 8, 16, 24, 32 };

    private static Tensor[] Features(int b, int size, int seed)
    {
        var g = new Generator((ulong)seed);
        return InChannels.Select((c, i) => torch.randn(new long[] { b, c, size >> (2 + i), size >> (2 + i) }, generator: g)).ToArray();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PredictsAtInputResolutionAndTrainsEveryParameter(bool useSsa)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(0);
        using var decoder = new LightSegDecoder(new LightSegDecoderConfig(InChannels, 16, 5, useSsa, EdgeBorder: 1));
        Assert.IsType(useSsa ? typeof(SsaHead) : typeof(PixelClassifierHead), decoder.Head);
        decoder.train();
        var feats = Features(2, 64, 1);
        var output = decoder.Run(feats);
        Assert.Equal(new long[] { 2, 5, 16, 16 }, output.Logits.shape);
        var loss = decoder.Loss(output, SsaTestData.Labels(2, 64, 64, 5, 3));
        Assert.Equal(useSsa ? 8 : 1, loss.Terms.Count);
        loss.Total.backward();
        foreach (var (name, p) in decoder.named_parameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"{name} got no gradient");

        decoder.eval();
        using var _ = torch.no_grad();
        var logits = decoder.call(feats);
        Assert.Equal(new long[] { 2, 5, 64, 64 }, logits.shape);
        Assert.Equal(new long[] { 2, 5, 50, 70 }, decoder.Predict(feats, 50, 70).shape);
    }

    [Fact]
    public void KeysFollowTheOfficialSegFormerHeadLayout()
    {
        using var decoder = new LightSegDecoder(new LightSegDecoderConfig(InChannels, 16, 5));
        var keys = decoder.state_dict().Keys.ToHashSet();
        Assert.Contains("convs.3.conv.weight", keys);
        Assert.Contains("convs.0.bn.running_var", keys);
        Assert.Contains("fusion_conv.conv.weight", keys);
        Assert.Contains("head.gt_center_proj.weight", keys);
        Assert.DoesNotContain("convs.0.conv.bias", keys); // ConvModule drops the bias before a norm
        Assert.Equal("convs.1.bn.weight", LightSegDecoder.MapOfficialKey("decode_head.convs.1.bn.weight"));
        Assert.Equal("fusion_conv.conv.weight", LightSegDecoder.MapOfficialKey("fusion_conv.conv.weight"));
        Assert.Equal("head.center_pos.weight", LightSegDecoder.MapOfficialKey("decode_head.center_pos.weight"));
        // Every key of ours has an official counterpart that maps back to it.
        foreach (var k in keys)
            Assert.Equal(k, LightSegDecoder.MapOfficialKey("decode_head." + (k.StartsWith("head.") ? k["head.".Length..] : k)));
    }

    [Fact]
    public void RejectsBadFeatureLists()
    {
        using var scope = torch.NewDisposeScope();
        using var decoder = new LightSegDecoder(new LightSegDecoderConfig(InChannels, 16, 5));
        var feats = Features(1, 64, 2);
        var ex = Assert.Throws<ArgumentException>(() => decoder.call(feats.Take(3).ToArray()));
        Assert.Contains("Expected 4 feature maps", ex.Message);
        feats[2] = torch.randn(1, 25, 4, 4);
        ex = Assert.Throws<ArgumentException>(() => decoder.call(feats));
        Assert.Contains("(B, 24, h, w)", ex.Message);
        Assert.Throws<ArgumentException>(() => new LightSegDecoder(new LightSegDecoderConfig(Array.Empty<int>(), 16, 5)));
    }
}
