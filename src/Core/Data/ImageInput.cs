using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace MLNetExtensions.Core.Data;

/// <summary>
/// How an image column enters a model: an <see cref="MLImage"/> column (ImageAnalytics) or a known-size float
/// vector laid out C×H×W. Produces planar float CHW with <see cref="Channels"/> channels (grey images are repeated
/// to 3 channels, RGB is averaged to 1). MLImage pixels are scaled to [0, 1]; vector values are taken as they are.
/// </summary>
public sealed record ImageInput(string ColumnName, int Channels, int Height, int Width)
{
    /// <summary>Floats per image.</summary>
    public int Size => Channels * Height * Width;

    /// <summary>
    /// Resolves the geometry from a schema: a sized image column gives H×W; a vector column needs
    /// <paramref name="declaredChannels"/>/<paramref name="declaredHeight"/>/<paramref name="declaredWidth"/> (or a 3-D vector type).
    /// Throws naming the column and what was expected.
    /// </summary>
    public static ImageInput Resolve(DataViewSchema schema, string column, int modelChannels,
        int? declaredChannels = null, int? declaredHeight = null, int? declaredWidth = null)
    {
        var col = schema.GetColumnOrNull(column) ?? throw SchemaError.Missing(column, "an image (MLImage) or a Vector<Single> of C×H×W pixels");
        return Resolve(column, col.Type, modelChannels, declaredChannels, declaredHeight, declaredWidth);
    }

    internal static ImageInput Resolve(string column, DataViewType type, int modelChannels, int? c, int? h, int? w)
    {
        if (type is ImageDataViewType img)
        {
            if (img.Height == 0 || img.Width == 0)
                throw new ArgumentOutOfRangeException(nameof(column), $"Column '{column}' is an image of unknown size; add mlContext.Transforms.ResizeImages(...) so its height and width are fixed.");
            return new ImageInput(column, modelChannels, img.Height, img.Width);
        }
        if (type is VectorDataViewType vec && vec.ItemType == NumberDataViewType.Single && vec.IsKnownSize)
        {
            var dims = vec.Dimensions;
            int cc = c ?? (dims.Length == 3 ? dims[0] : 0), hh = h ?? (dims.Length == 3 ? dims[1] : 0), ww = w ?? (dims.Length == 3 ? dims[2] : 0);
            if (cc == 0 || hh == 0 || ww == 0)
            {
                if (dims.Length == 1 && h == null && w == null)
                {
                    // A flat vector of a square image: infer 1 or 3 channels.
                    foreach (var ch in new[] { c ?? 1, 3 })
                    {
                        var side = (int)Math.Round(Math.Sqrt(vec.Size / (double)ch));
                        if (side * side * ch == vec.Size) { cc = ch; hh = ww = side; break; }
                    }
                }
                if (cc == 0) throw new ArgumentOutOfRangeException(nameof(column), $"Column '{column}' is a flat Vector<Single> of {vec.Size} values; declare its channels, height and width in the options.");
            }
            if (cc * hh * ww != vec.Size)
                throw new ArgumentOutOfRangeException(nameof(column), $"Column '{column}' has {vec.Size} values but the declared image is {cc}×{hh}×{ww} = {cc * hh * ww}.");
            if (cc != 1 && cc != 3) throw new ArgumentOutOfRangeException(nameof(column), $"Column '{column}': expected 1 or 3 channels, got {cc}.");
            return new ImageInput(column, modelChannels, hh, ww) { SourceChannels = cc, IsVector = true };
        }
        throw SchemaError.WrongType(column, "an image (MLImage) or a known-size Vector<Single> of C×H×W pixels", type);
    }

    /// <summary>Channels of a vector source (1 or 3).</summary>
    public int SourceChannels { get; init; } = 3;

    /// <summary>True when the source column is a float vector rather than an MLImage.</summary>
    public bool IsVector { get; init; }

    /// <summary>Creates a per-cursor reader that writes one image into a span of <see cref="Size"/> floats.</summary>
    public IRowFiller CreateFiller(DataViewRow row) =>
        IsVector ? new VectorFiller(this, row) : new ImageFiller(this, row);

    /// <summary>Largest pixel magnitude a vector image may hold (far above 255, far below float32 overflow).</summary>
    public const float MaxPixelMagnitude = 1e6f;

    private sealed class VectorFiller : IRowFiller
    {
        private readonly ImageInput _spec;
        private readonly ValueGetter<VBuffer<float>> _get;
        private VBuffer<float> _buf;
        private float[]? _dense;
        public VectorFiller(ImageInput spec, DataViewRow row) { _spec = spec; _get = row.GetGetter<VBuffer<float>>(row.Schema[spec.ColumnName]); }
        public int Size => _spec.Size;
        public void Fill(Span<float> dst)
        {
            _get(ref _buf);
            // The row's values as a span (no per-row array); a sparse vector is densified into a reused buffer.
            ReadOnlySpan<float> src;
            if (_buf.IsDense) src = _buf.GetValues();
            else { _buf.CopyTo(_dense ??= new float[_buf.Length]); src = _dense; }
            int plane = _spec.Height * _spec.Width;
            foreach (var v in src)
            {
                if (float.IsNaN(v) || float.IsInfinity(v))
                    throw new InvalidDataException($"Column '{_spec.ColumnName}' contains NaN or infinity; images must be finite.");
                // Pixel vectors are [0, 1] or [0, 255]; values like 3e38 are finite but overflow the first layer, and
                // training would then "diverge" and blame the learning rate.
                if (Math.Abs(v) > MaxPixelMagnitude)
                    throw new InvalidDataException($"Column '{_spec.ColumnName}' holds the pixel value {v:G3}, far outside the expected [0, 1] or [0, 255] range " +
                        $"(|x| ≤ {MaxPixelMagnitude:G0} accepted); rescale the column.");
            }
            if (_spec.SourceChannels == _spec.Channels) src.CopyTo(dst);
            else if (_spec.SourceChannels == 1)
                for (int c = 0; c < _spec.Channels; c++) src[..plane].CopyTo(dst.Slice(c * plane, plane));
            else
                for (int i = 0; i < plane; i++) dst[i] = (src[i] + src[plane + i] + src[2 * plane + i]) / 3f;
        }
    }

    private sealed class ImageFiller : IRowFiller
    {
        private readonly ImageInput _spec;
        private readonly ValueGetter<MLImage> _get;
        private MLImage? _img;
        public ImageFiller(ImageInput spec, DataViewRow row) { _spec = spec; _get = row.GetGetter<MLImage>(row.Schema[spec.ColumnName]); }
        public int Size => _spec.Size;
        public void Fill(Span<float> dst)
        {
            _get(ref _img!); // the getter disposes the previous image itself (ImageAnalytics contract)
            var img = _img ?? throw new InvalidDataException($"Column '{_spec.ColumnName}' has a missing image.");
            if (img.Height != _spec.Height || img.Width != _spec.Width)
                throw new InvalidDataException($"Column '{_spec.ColumnName}': image is {img.Width}×{img.Height}, expected {_spec.Width}×{_spec.Height}.");
            var px = img.Pixels; // 4 bytes per pixel, BGRA or RGBA
            bool bgra = img.PixelFormat == MLPixelFormat.Bgra32;
            int plane = _spec.Height * _spec.Width;
            const float s = 1f / 255f;
            int ri = bgra ? 2 : 0, bi = bgra ? 0 : 2;
            // Branches hoisted out of the per-pixel loop; planes written through their own spans (bounds checks once).
            if (_spec.Channels == 3)
            {
                var dr = dst[..plane]; var dg = dst.Slice(plane, plane); var db = dst.Slice(2 * plane, plane);
                for (int i = 0, p = 0; i < plane; i++, p += 4) { dr[i] = px[p + ri] * s; dg[i] = px[p + 1] * s; db[i] = px[p + bi] * s; }
            }
            else
                for (int i = 0, p = 0; i < plane; i++, p += 4) dst[i] = (px[p + ri] * s + px[p + 1] * s + px[p + bi] * s) / 3f;
        }
    }
}

/// <summary>Writes one row's value of one input into a float span (a per-cursor object).</summary>
public interface IRowFiller
{
    /// <summary>Floats written per row.</summary>
    int Size { get; }
    /// <summary>Reads the current row into <paramref name="dst"/>.</summary>
    void Fill(Span<float> dst);
}
