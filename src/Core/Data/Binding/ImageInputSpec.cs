using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Data.Binding;

/// <summary>
/// An image column: an MLImage (sized) or a known-size Vector&lt;Single&gt; laid out C×H×W, read as planar [0,1] floats with
/// <see cref="Channels"/> channels (grey repeated to RGB, RGB averaged to grey; see <see cref="ImageInput"/>), and
/// normalised per channel by <see cref="Mean"/>/<see cref="Std"/> when made a model tensor (<see cref="Normalize"/>).
/// </summary>
public sealed record ImageInputSpec(string Column, string Slot, int Channels) : InputSpec(Column, Slot)
{
    /// <summary>Height (null until resolved, or declared for a flat vector).</summary>
    public int? Height { get; init; }
    /// <summary>Width (null until resolved, or declared for a flat vector).</summary>
    public int? Width { get; init; }
    /// <summary>Channels of a vector column (null = from its dimensions).</summary>
    public int? SourceChannels { get; init; }
    /// <summary>True for a float-vector column (set by resolving).</summary>
    public bool IsVector { get; init; }
    /// <summary>Per-channel mean subtracted from [0,1] pixels.</summary>
    public float[] Mean { get; init; } = Array.Empty<float>();
    /// <summary>Per-channel standard deviation.</summary>
    public float[] Std { get; init; } = Array.Empty<float>();

    /// <inheritdoc/>
    public override string Expected => Resolved && IsVector
        ? $"a Vector<Single> of {SourceChannels}×{Height}×{Width} pixels"
        : Resolved ? $"an image (MLImage) of {Width}×{Height}"
        : "an image (MLImage) or a known-size Vector<Single> of C×H×W pixels";

    /// <inheritdoc/>
    protected override void CheckShape(SchemaShape.Column c)
    {
        bool isImage = c.ItemType is ImageDataViewType;
        if (!isImage && !(c.ItemType == NumberDataViewType.Single && c.Kind == SchemaShape.Column.VectorKind.Vector))
            throw SchemaError.WrongType(Column, Expected, $"{c.Kind} {c.ItemType}");
    }

    /// <summary>Whether the geometry was taken from a schema (then every later schema must match it).</summary>
    public bool Resolved { get; init; }

    /// <inheritdoc/>
    protected override InputSpec ResolveType(DataViewType type, string what)
    {
        if (!Resolved)
        {
            var g = ImageInput.Resolve(Column, type, Channels, SourceChannels, Height, Width);
            return this with { Height = g.Height, Width = g.Width, SourceChannels = g.SourceChannels, IsVector = g.IsVector, Resolved = true };
        }
        var r = ImageInput.Resolve(Column, type, Channels, IsVector ? SourceChannels : null, IsVector ? Height : null, IsVector ? Width : null);
        if (r.Height != Height || r.Width != Width || r.IsVector != IsVector || (IsVector && r.SourceChannels != SourceChannels))
            throw SchemaError.WrongType(Column, $"{Expected} (the training geometry)", type);
        return this;
    }

    /// <summary>The geometry as the filler uses it.</summary>
    public ImageInput Geometry => new(Column, Channels, Height ?? throw Unresolved(), Width ?? throw Unresolved())
        { SourceChannels = SourceChannels ?? 3, IsVector = IsVector };

    private InvalidOperationException Unresolved() => new($"Image input '{Column}' is not resolved against a schema yet.");

    /// <inheritdoc/>
    public override IEnumerable<(string, HostDType, long[], bool)> Buffers()
    {
        yield return (Slot, HostDType.Float32, new long[] { Channels, Height ?? throw Unresolved(), Width ?? throw Unresolved() }, false);
    }

    /// <inheritdoc/>
    public override IRowReader CreateReader(DataViewRow row) => new Reader(Slot, Geometry.CreateFiller(row));

    /// <summary>(x − mean)/std per channel; unchanged when no mean/std is set.</summary>
    public Tensor Normalize(Tensor x)
    {
        if (Mean.Length == 0) return x;
        using var m = tensor(Mean, new long[] { 1, Mean.Length, 1, 1 });
        using var s = tensor(Std, new long[] { 1, Std.Length, 1, 1 });
        return (x - m.to(x.device)) / s.to(x.device);
    }

    /// <summary>
    /// <see cref="Normalize"/> written into <paramref name="x"/> itself (same arithmetic, no new tensors): for a tensor
    /// the caller just made from a host batch and owns.
    /// </summary>
    public Tensor NormalizeInPlace(Tensor x)
    {
        if (Mean.Length == 0) return x;
        using var m = tensor(Mean, new long[] { 1, Mean.Length, 1, 1 });
        using var s = tensor(Std, new long[] { 1, Std.Length, 1, 1 });
        return x.sub_(m.to(x.device)).div_(s.to(x.device));
    }

    private sealed class Reader : IRowReader
    {
        private readonly string _slot;
        private readonly IRowFiller _filler;
        public Reader(string slot, IRowFiller filler) { _slot = slot; _filler = filler; }
        public bool Read(HostBatch batch, int row) { _filler.Fill(batch[_slot].FloatRow(row)); return true; }
    }
}
