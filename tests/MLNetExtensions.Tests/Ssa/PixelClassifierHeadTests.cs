using MLNetExtensions.Transforms.Ssa;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Segmentation;

namespace MLNetExtensions.Tests.Ssa;

public class PixelClassifierHeadTests
{
    [Fact]
    public void IsAOneByOneConvWithMmsegCrossEntropy()
    {
        using var scope = torch.NewDisposeScope();
        using var head = new PixelClassifierHead(4, 3);
        Assert.Equal(new[] { "conv_seg.bias", "conv_seg.weight" }, head.state_dict().Keys.OrderBy(k => k, StringComparer.Ordinal));
        head.eval();
        var bias = new float[] { 0.5f, -1f, 2f };
        using (torch.no_grad())
        {
            head.state_dict()["conv_seg.weight"].zero_();
            head.state_dict()["conv_seg.bias"].copy_(torch.tensor(bias));
        }
        var output = head.Run(torch.randn(1, 4, 2, 2));
        Assert.True(output.Logits.allclose(torch.tensor(bias).view(1, 3, 1, 1).expand(1, 3, 2, 2)));

        // Constant logits survive upsampling; CE averages over all 16 pixels, 4 of them ignored.
        var label = torch.zeros(new long[] { 1, 4, 4 }, ScalarType.Int64);
        label[0, 0] = torch.tensor(255L);
        label[0, 1] = torch.tensor(2L);
        var logZ = Math.Log(bias.Sum(b => Math.Exp(b)));
        var expected = (4 * (logZ - bias[2]) + 8 * (logZ - bias[0])) / 16;
        var loss = head.Loss(output, label);
        Assert.Equal(expected, loss.Total.item<float>(), 5);
        Assert.Equal(loss.Total.item<float>(), loss["loss_ce"].item<float>());
    }

    [Fact]
    public void RejectsWrongChannelCount()
    {
        using var head = new PixelClassifierHead(4, 3);
        using var x = torch.randn(1, 5, 2, 2);
        Assert.Throws<ArgumentException>(() => head.call(x));
    }
}
