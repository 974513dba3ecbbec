using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Transforms.Datasets.Scenes;

/// <summary>
/// A semantic-segmentation task built from real images: Fashion-MNIST items (random size, position, flip and tint,
/// overlapping, so nearer items occlude farther ones) on a textured canvas, with an exact per-pixel class map and a
/// per-pixel depth map. Scenes are rendered lazily when a row is read and depend only on (seed, row index).
/// </summary>
/// <remarks>
/// Classes: 11 = background + the 10 Fashion-MNIST classes. In the <c>Mask</c> column (ML.NET keys are 1-based)
/// key 1 is background and key k+2 is Fashion-MNIST class k; <see cref="ClassNames"/> are the key values.
/// Ground truth: an item covers a pixel where its resampled intensity is above <see cref="FashionSceneOptions.Threshold"/>;
/// the nearest covering item gives the class and depth.
/// </remarks>
public sealed class FashionScenes
{
    /// <summary>Number of classes (background + 10).</summary>
    public const int NumClasses = 11;
    /// <summary>Class index of the background (key 1 in the <c>Mask</c> column).</summary>
    public const int Background = 0;
    /// <summary>Image column: Vector&lt;Single, 3, H, W&gt; in [0, 1].</summary>
    public const string ImageColumn = "Image";
    /// <summary>Mask column: Vector&lt;Key&lt;UInt32, 11&gt;, H·W&gt;, row-major.</summary>
    public const string MaskColumn = "Mask";
    /// <summary>Depth column: Vector&lt;Single, 1, H, W&gt;.</summary>
    public const string DepthColumn = "Depth";

    /// <summary>Class names in class-index order (background first); the key values of the mask.</summary>
    public static IReadOnlyList<string> ClassNames { get; } = new[] { "background" }.Concat(FashionMnist.ClassNames).ToArray();

    private const int Side = 28;
    private readonly float[] _pixels; // n × 28 × 28 in [0,1]
    private readonly byte[] _labels;

    /// <summary>Creates a generator over explicit source items (n × 28 × 28 intensities in [0,1] and labels 0–9).</summary>
    public FashionScenes(FashionSceneOptions options, float[] sourcePixels, byte[] sourceLabels)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sourcePixels);
        ArgumentNullException.ThrowIfNull(sourceLabels);
        options.Validate();
        if (sourceLabels.Length == 0 || sourcePixels.Length != sourceLabels.Length * Side * Side)
            throw new ArgumentException($"Expected {Side}×{Side} pixels per source label; got {sourcePixels.Length} pixels for {sourceLabels.Length} labels.", nameof(sourcePixels));
        if (sourceLabels.Any(l => l > 9)) throw new ArgumentException("Source labels must be Fashion-MNIST classes 0–9.", nameof(sourceLabels));
        Options = options;
        _pixels = sourcePixels;
        _labels = sourceLabels;
    }

    /// <summary>Creates a generator whose items come from the Fashion-MNIST split named in the options.</summary>
    public static FashionScenes Create(MLContext mlContext, FashionSceneOptions options)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var source = FashionMnist.Load(mlContext, options.Split, options.SourceRows + options.SkipSourceRows, options.FashionMnistDirectory);
        var pixels = new List<float>();
        var labels = new List<byte>();
        long row = 0;
        using (var cursor = source.GetRowCursor(new[] { source.Schema["Pixels"], source.Schema[ColumnNames.Label] }))
        {
            var px = cursor.GetGetter<VBuffer<float>>(source.Schema["Pixels"]);
            var lab = cursor.GetGetter<uint>(source.Schema[ColumnNames.Label]);
            VBuffer<float> buf = default; uint key = 0;
            while (cursor.MoveNext())
            {
                if (row++ < options.SkipSourceRows) continue;
                px(ref buf); lab(ref key);
                pixels.AddRange(buf.DenseValues());
                labels.Add((byte)(key - 1));
            }
        }
        if (labels.Count == 0 && options.Count > 0)
            throw new ArgumentException($"{nameof(FashionSceneOptions.SkipSourceRows)} = {options.SkipSourceRows} leaves no item: the Fashion-MNIST " +
                $"{options.Split} split here has {row} rows{(FashionMnist.FullDataAvailable ? "" : " (embedded subset; install dataset-fashion-mnist for the full set)")}.", nameof(options));
        return new FashionScenes(options, pixels.ToArray(), labels.ToArray());
    }

    /// <summary>Loads the scenes as a lazy <see cref="IDataView"/> with columns Image, Mask and Depth.</summary>
    public static IDataView Load(MLContext mlContext, FashionSceneOptions options) => Create(mlContext, options).AsDataView();

    /// <summary>The settings.</summary>
    public FashionSceneOptions Options { get; }

    /// <summary>Number of source items available.</summary>
    public int SourceCount => _labels.Length;

    /// <summary>The rows as a lazy, shuffle-capable <see cref="IDataView"/> (Image, Mask, Depth).</summary>
    public IDataView AsDataView() => new SceneView(this);

    /// <summary>Renders scene <paramref name="index"/> (deterministic in (seed, index)).</summary>
    public Scene Generate(long index)
    {
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index), index, "index must be ≥ 0.");
        var o = Options;
        int h = o.Height, w = o.Width, plane = h * w;
        var rng = new Random(Mix(o.Seed, index));

        // Background: a smooth colour gradient, darker than the items on average, over a receding floor (depth).
        var image = new float[3 * plane];
        var depth = new float[plane];
        var classes = new byte[plane];
        var baseColour = new float[3];
        var grad = new float[3, 2];
        for (int c = 0; c < 3; c++)
        {
            baseColour[c] = (float)(0.05 + 0.3 * rng.NextDouble());
            grad[c, 0] = (float)((rng.NextDouble() - 0.5) * 0.3);
            grad[c, 1] = (float)((rng.NextDouble() - 0.5) * 0.3);
        }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int p = y * w + x;
                float fy = y / (float)(h - 1) - 0.5f, fx = x / (float)(w - 1) - 0.5f;
                for (int c = 0; c < 3; c++) image[c * plane + p] = baseColour[c] + grad[c, 0] * fy + grad[c, 1] * fx;
                depth[p] = BackgroundDepth(y, h);
            }
        if (o.BackgroundLikeItems) PaintItemLikeBackground(rng, image, h, w);

        // Items: sampled, then painted far to near so nearer items occlude.
        int n = rng.Next(o.MinItems, o.MaxItems + 1);
        var items = new List<SceneItem>(n);
        for (int i = 0; i < n; i++)
        {
            int src = rng.Next(_labels.Length);
            int size = rng.Next(o.MinItemSize, o.MaxItemSize + 1);
            int outside = (int)Math.Floor(size * o.MaxOutside);
            int top = rng.Next(-outside, Math.Max(-outside, h - size + outside) + 1);
            int left = rng.Next(-outside, Math.Max(-outside, w - size + outside) + 1);
            bool flip = rng.NextDouble() < o.FlipProbability;
            float z = (float)(0.2 + 0.6 * rng.NextDouble());
            var tint = new float[3];
            for (int c = 0; c < 3; c++) tint[c] = (float)(0.45 + 0.55 * rng.NextDouble());
            items.Add(new SceneItem(src, _labels[src], top, left, size, flip, z, tint));
        }
        items.Sort((a, b) => b.Depth.CompareTo(a.Depth));
        foreach (var it in items) Paint(it, image, classes, depth, h, w);

        if (o.Noise > 0)
            for (int i = 0; i < image.Length; i++) image[i] += o.Noise * Gaussian(rng);
        for (int i = 0; i < image.Length; i++) image[i] = Math.Clamp(image[i], 0f, 1f);
        if (o.DepthNoise > 0)
            for (int i = 0; i < depth.Length; i++) depth[i] += o.DepthNoise * Gaussian(rng);
        return new Scene(image, classes, depth, items);
    }

    /// <summary>Depth of the background at row <paramref name="y"/>: a plane slanted from 1 (top row, farthest) to 0.85 (bottom row).</summary>
    public static float BackgroundDepth(int y, int height) => 1f - 0.15f * y / (height - 1);

    /// <summary>
    /// The ambiguous RGB background: a colour in the items' tint range, modulated by a few soft blotches of
    /// item-like brightness (Gaussian bumps), so neither colour nor brightness tells the canvas from an item.
    /// </summary>
    private static void PaintItemLikeBackground(Random rng, float[] image, int h, int w)
    {
        int plane = h * w;
        var colour = new float[3];
        for (int c = 0; c < 3; c++) colour[c] = (float)(0.45 + 0.55 * rng.NextDouble());
        int blobs = 6;
        var by = new float[blobs]; var bx = new float[blobs]; var br = new float[blobs]; var ba = new float[blobs];
        for (int b = 0; b < blobs; b++)
        {
            by[b] = (float)(rng.NextDouble() * h); bx[b] = (float)(rng.NextDouble() * w);
            br[b] = (float)((0.08 + 0.17 * rng.NextDouble()) * Math.Min(h, w)); ba[b] = (float)(rng.NextDouble() * 0.9);
        }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                float level = 0.1f;
                for (int b = 0; b < blobs; b++)
                {
                    float dy = y - by[b], dx = x - bx[b];
                    level += ba[b] * MathF.Exp(-(dy * dy + dx * dx) / (2 * br[b] * br[b]));
                }
                level = Math.Min(level, 1f);
                int p = y * w + x;
                for (int c = 0; c < 3; c++) image[c * plane + p] = level * colour[c];
            }
    }

    /// <summary>
    /// The item's intensity at canvas pixel (y, x): the 28×28 source resampled bilinearly (half-pixel centres, edge
    /// clamped) to Size×Size; 0 outside its square. At Size 28 it reproduces the source pixels exactly.
    /// </summary>
    public float Intensity(SceneItem item, int y, int x)
    {
        ArgumentNullException.ThrowIfNull(item);
        int v = y - item.Top, u = x - item.Left;
        if (v < 0 || u < 0 || v >= item.Size || u >= item.Size) return 0f;
        if (item.Flipped) u = item.Size - 1 - u;
        double scale = Side / (double)item.Size;
        double sy = Math.Clamp((v + 0.5) * scale - 0.5, 0, Side - 1), sx = Math.Clamp((u + 0.5) * scale - 0.5, 0, Side - 1);
        int y0 = (int)sy, x0 = (int)sx, y1 = Math.Min(y0 + 1, Side - 1), x1 = Math.Min(x0 + 1, Side - 1);
        float wy = (float)(sy - y0), wx = (float)(sx - x0);
        int b = item.SourceIndex * Side * Side;
        float top = _pixels[b + y0 * Side + x0] * (1 - wx) + _pixels[b + y0 * Side + x1] * wx;
        float bot = _pixels[b + y1 * Side + x0] * (1 - wx) + _pixels[b + y1 * Side + x1] * wx;
        return top * (1 - wy) + bot * wy;
    }

    private void Paint(SceneItem it, float[] image, byte[] classes, float[] depth, int h, int w)
    {
        int plane = h * w;
        for (int y = Math.Max(0, it.Top); y < Math.Min(h, it.Top + it.Size); y++)
            for (int x = Math.Max(0, it.Left); x < Math.Min(w, it.Left + it.Size); x++)
            {
                float a = Intensity(it, y, x);
                int p = y * w + x;
                // Faint pixels blend in visibly but are not labelled (they are below the ground-truth threshold).
                float o = Options.ItemContrast * a; // reduced contrast: the item only partly covers the canvas colour
                for (int c = 0; c < 3; c++) image[c * plane + p] = (1 - o) * image[c * plane + p] + o * it.Tint[c];
                if (a > Options.Threshold)
                {
                    classes[p] = (byte)(it.FashionLabel + 1);
                    depth[p] = it.Depth - Options.DepthBulge * a; // brighter (thicker) parts may bulge towards the camera
                }
            }
    }

    private static float Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }

    // A stable per-row seed (System.Random(int) is deterministic across runtimes; HashCode is not).
    private static int Mix(int seed, long index)
    {
        ulong z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)index + 0x632BE59BD9B4E019UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }

    private sealed class SceneView : IDataView
    {
        private readonly FashionScenes _g;
        public SceneView(FashionScenes g)
        {
            _g = g;
            int h = g.Options.Height, w = g.Options.Width;
            var b = new DataViewSchema.Builder();
            b.AddColumn(ImageColumn, new VectorDataViewType(NumberDataViewType.Single, 3, h, w));
            var names = new VBuffer<ReadOnlyMemory<char>>(NumClasses, ClassNames.Select(c => c.AsMemory()).ToArray());
            var meta = new DataViewSchema.Annotations.Builder();
            meta.Add(ColumnNames.KeyValues, new VectorDataViewType(TextDataViewType.Instance, NumClasses), (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
            b.AddColumn(MaskColumn, new VectorDataViewType(new KeyDataViewType(typeof(uint), NumClasses), h * w), meta.ToAnnotations());
            b.AddColumn(DepthColumn, new VectorDataViewType(NumberDataViewType.Single, 1, h, w));
            Schema = b.ToSchema();
        }
        public bool CanShuffle => true;
        public DataViewSchema Schema { get; }
        public long? GetRowCount() => _g.Options.Count;
        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
            new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet(), rand);
        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            new[] { GetRowCursor(columnsNeeded, rand) };

        private sealed class Cursor : DataViewRowCursor
        {
            private readonly SceneView _v;
            private readonly HashSet<int> _active;
            private readonly int[]? _order;
            private long _pos = -1, _renderedPos = -1;
            private Scene? _scene;
            public Cursor(SceneView v, HashSet<int> active, Random? rand)
            {
                _v = v; _active = active;
                if (rand != null)
                {
                    _order = Enumerable.Range(0, v._g.Options.Count).ToArray();
                    for (int i = _order.Length - 1; i > 0; i--) { int j = rand.Next(i + 1); (_order[i], _order[j]) = (_order[j], _order[i]); }
                }
            }
            private int Row => _order?[_pos] ?? (int)_pos;
            public override DataViewSchema Schema => _v.Schema;
            public override long Position => _pos;
            public override long Batch => 0;
            public override bool MoveNext() => ++_pos < _v._g.Options.Count;
            public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);
            public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)Row, 0);

            // Rendered once per row, shared by the three getters.
            private Scene Current()
            {
                if (_pos < 0) throw new InvalidOperationException("The cursor is not on a row; call MoveNext first.");
                if (_renderedPos != _pos) { _scene = _v._g.Generate(Row); _renderedPos = _pos; }
                return _scene!;
            }

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                Delegate g = column.Index switch
                {
                    0 => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) => Copy(Current().Image, ref dst)),
                    1 => (ValueGetter<VBuffer<uint>>)((ref VBuffer<uint> dst) =>
                    {
                        var cls = Current().Classes;
                        var ed = VBufferEditor.Create(ref dst, cls.Length);
                        for (int i = 0; i < cls.Length; i++) ed.Values[i] = cls[i] + 1u;
                        dst = ed.Commit();
                    }),
                    2 => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) => Copy(Current().Depth, ref dst)),
                    _ => throw new ArgumentOutOfRangeException(nameof(column)),
                };
                return (ValueGetter<TValue>)g;
            }

            private static void Copy(float[] src, ref VBuffer<float> dst)
            {
                var ed = VBufferEditor.Create(ref dst, src.Length);
                src.CopyTo(ed.Values);
                dst = ed.Commit();
            }
        }
    }
}
