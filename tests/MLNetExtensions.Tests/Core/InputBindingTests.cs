using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using TorchSharp;
using Xunit;

namespace MLNetExtensions.Tests.Core;

/// <summary>The binders the coming components need (multi-hot labels, variable-length sequences, tokens), read through BatchStreamer.</summary>
public class InputBindingTests
{
    private static readonly MLContext Ml = new(seed: 1);

    private static HostBatch One(IDataView data, InputSpec spec, int batch = 8)
    {
        var streamer = new BatchStreamer(data, new[] { spec.Resolve(data.Schema) }, batch);
        return streamer.Stream(null, 0).First();
    }

    private sealed class KeysRow { [KeyType(4)] public uint[] Y { get; set; } = Array.Empty<uint>(); }
    private sealed class FlagsRow { [VectorType(3)] public float[] Y { get; set; } = new float[3]; [VectorType(3)] public bool[] B { get; set; } = new bool[3]; }

    [Fact]
    public void MultiHotReadsKeyListsAndFlagVectorsAndSkipsRowsWithoutAClass()
    {
        // Key vectors hold raw keys (1-based, 0 = missing); a row with no class (empty, or only missing keys) is skipped.
        var keys = Ml.Data.LoadFromEnumerable(new[] { new KeysRow { Y = new uint[] { 1, 3 } }, new KeysRow { Y = Array.Empty<uint>() },
            new KeysRow { Y = new uint[] { 0 } }, new KeysRow { Y = new uint[] { 4, 0 } } });
        var streamer = new BatchStreamer(keys, new[] { new MultiHotInputSpec("Y", "y").Resolve(keys.Schema) }, 8);
        var b = streamer.Stream(null, 0).First();
        Assert.Equal(2, b.Count);
        Assert.Equal(new float[] { 1, 0, 1, 0, 0, 0, 0, 1 }, b["y"].Floats!.Take(8));
        Assert.Equal(2, streamer.SkippedMissingLabels);
        var flags = Ml.Data.LoadFromEnumerable(new[] { new FlagsRow { Y = new float[] { 0, 1, 0 }, B = new[] { true, false, true } } });
        Assert.Equal(new float[] { 0, 1, 0 }, One(flags, new MultiHotInputSpec("Y", "y"))["y"].Floats!.Take(3));
        // A float vector holding other values is not a label (e.g. features copied under its name): named, not trained on.
        var notFlags = Ml.Data.LoadFromEnumerable(new[] { new FlagsRow { Y = new float[] { 0, 2, 0 }, B = new[] { true, false, true } } });
        Assert.Contains("'Y'", Assert.Throws<InvalidOperationException>(() => One(notFlags, new MultiHotInputSpec("Y", "y"))).Message);
        Assert.Equal(new float[] { 1, 0, 1 }, One(flags, new MultiHotInputSpec("B", "b"))["b"].Floats!.Take(3));
        var nan = Ml.Data.LoadFromEnumerable(new[] { new FlagsRow { Y = new[] { float.NaN, 1f, 0f } } });
        Assert.Contains("'Y'", Assert.Throws<InvalidOperationException>(() => One(nan, new MultiHotInputSpec("Y", "y"))).Message);
    }

    private sealed class SeqRow { public float[] X { get; set; } = Array.Empty<float>(); }

    [Fact]
    public void SequencesArePaddedWithLengthsAndTooLongRowsAreNamed()
    {
        var data = Ml.Data.LoadFromEnumerable(new[] { new SeqRow { X = new float[] { 1, 2, 3, 4 } }, new SeqRow { X = new float[] { 5, 6 } } });
        var spec = new SequenceInputSpec("X", "x", FeatureSize: 2, MaxLength: 3);
        var b = One(data, spec);
        Assert.Equal(new[] { 2, 1 }, b["x"].Lengths!.Take(2));
        using var t = b.Tensor("x", torch.CPU);
        Assert.Equal(new long[] { 2, 2, 2 }, t.shape); // cut to the longest row of the batch
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6, 0, 0 }, t.data<float>().ToArray());
        var inputs = ModelInputs.From(b, new[] { spec.Resolve(data.Schema) }, torch.CPU);
        Assert.Equal(new long[] { 2, 1 }, inputs["x" + HostBatch.LengthsSuffix].data<long>().ToArray());
        var tooLong = new SequenceInputSpec("X", "x", 2, 1);
        Assert.Contains("'X'", Assert.Throws<InvalidOperationException>(() => One(data, tooLong)).Message);
        var cut = One(data, tooLong with { Truncate = true });
        Assert.Equal(new[] { 1, 1 }, cut["x"].Lengths!.Take(2));
        Assert.Contains("'X'", Assert.Throws<ArgumentOutOfRangeException>(() => new SequenceInputSpec("X", "x", 3, 4).Resolve(
            Ml.Data.LoadFromEnumerable(new[] { new FlagsRow() }).Schema)).Message);
    }

    private sealed class TextRow { public string T { get; set; } = ""; }
    private sealed class CharEncoder : ITokenEncoder
    {
        public IReadOnlyList<int> Encode(string text) => text.Select(c => (int)c).ToList();
        public int PadId => 0;
    }

    [Fact]
    public void TokensCarryIdsMaskAndLengthsAndTruncateOnTheChosenSide()
    {
        var data = Ml.Data.LoadFromEnumerable(new[] { new TextRow { T = "abcde" }, new TextRow { T = "xy" } });
        var spec = new TokenInputSpec("T", "ids", MaxLength: 3) { Encoder = new CharEncoder() };
        var b = One(data, spec);
        Assert.Equal(new long[] { 'a', 'b', 'c', 'x', 'y', 0 }, b["ids"].Longs!.Take(6));
        Assert.Equal(new long[] { 1, 1, 1, 1, 1, 0 }, b["ids" + TokenInputSpec.MaskSuffix].Longs!.Take(6));
        Assert.Equal(new[] { 3, 2 }, b["ids"].Lengths!.Take(2));
        var tail = One(data, spec with { Truncation = TruncationSide.KeepTail });
        Assert.Equal(new long[] { 'c', 'd', 'e' }, tail["ids"].Longs!.Take(3));
        Assert.Contains("tokenizer", Assert.Throws<InvalidOperationException>(() => One(data, new TokenInputSpec("T", "ids", 3))).Message);
    }
}
