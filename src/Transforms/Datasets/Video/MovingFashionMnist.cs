using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Transforms.Datasets.Video;

/// <summary>Settings of a <see cref="MovingFashionMnist"/> data set.</summary>
/// <param name="Count">Clips in the data set.</param>
/// <param name="Seed">Seed; clip i depends only on (Seed, i), so views are deterministic and random-access.</param>
/// <param name="Frames">Frames T per clip.</param>
/// <param name="Height">Canvas height H.</param>
/// <param name="Width">Canvas width W.</param>
/// <param name="ItemSize">Side of the Fashion-MNIST item after area downsampling from 28×28.</param>
/// <param name="Speed">Pixels moved per frame.</param>
/// <param name="Split">Fashion-MNIST split the items come from (use different splits for train and test clips).</param>
public sealed record MovingFashionMnistOptions(int Count, int Seed = 0, int Frames = 8, int Height = 32, int Width = 32,
    int ItemSize = 14, int Speed = 2, FashionMnistSplit Split = FashionMnistSplit.Train)
{
    /// <summary>Colour channels per frame (RGB).</summary>
    public const int Channels = 3;

    /// <summary>Floats per clip (T·C·H·W).</summary>
    public int ClipSize => Frames * Channels * Height * Width;

    /// <summary>Throws <see cref="ArgumentException"/> for settings that cannot make clips.</summary>
    public void Validate()
    {
        if (Count < 1) throw new ArgumentException("Count must be at least 1.", nameof(Count));
        if (Frames < 2) throw new ArgumentException("Frames must be at least 2 (motion needs two frames).", nameof(Frames));
        if (ItemSize < 1 || ItemSize > 28) throw new ArgumentException("ItemSize must be in 1..28.", nameof(ItemSize));
        if (Height < ItemSize || Width < ItemSize) throw new ArgumentException($"The canvas ({Width}×{Height}) must hold the {ItemSize}×{ItemSize} item.", nameof(Height));
        if (Speed < 1 || Speed * (Frames - 1) >= Math.Min(Height, Width))
            throw new ArgumentException($"Speed must be ≥ 1 and the path ({Speed}·{Frames - 1} px) shorter than the canvas side.", nameof(Speed));
    }
}

/// <summary>
/// Synthetic video classification on real images: a Fashion-MNIST item moves across a black canvas by
/// <see cref="MovingFashionMnistOptions.Speed"/> pixels per frame, to the right, left, down or up (the 4 classes).
/// The canvas is a torus (the item wraps around the borders) and the start point is uniform, so the item's position in
/// <em>any single frame</em> is uniform over the canvas for every class: single frames carry no class information
/// (chance = 25 %). The time-average frame shows a streak that reveals the axis (horizontal/vertical) but not the sign,
/// so an order-free model tops out at 50 %; only the temporal order separates right from left and down from up.
/// Items are tinted with a random colour (class-independent). Lazy <see cref="IDataView"/>: clips are built per row.
/// </summary>
public sealed class MovingFashionMnist : IDataView
{
    /// <summary>Class names in key order (key 1 = right).</summary>
    public static readonly string[] ClassNames = { "right", "left", "down", "up" };
    /// <summary>Per-class (dx, dy) step direction.</summary>
    internal static readonly (int Dx, int Dy)[] Directions = { (1, 0), (-1, 0), (0, 1), (0, -1) };

    /// <summary>Name of the clip column: Vector&lt;Single&gt; of T×C×H×W values in [0, 1] (frame-major, as VideoFrameDecoder).</summary>
    public const string VideoColumn = "Video";
    /// <summary>Name of the key-typed label column (values <see cref="ClassNames"/>).</summary>
    public const string LabelColumn = ColumnNames.Label;

    private readonly FashionMnistSprites _sprites;

    /// <summary>Builds the view (reads the Fashion-MNIST split once: the full data set when installed, else the embedded subset).</summary>
    public MovingFashionMnist(MovingFashionMnistOptions options, string? fashionMnistDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _sprites = new FashionMnistSprites(options.Split, fashionMnistDirectory);
        var b = new DataViewSchema.Builder();
        b.AddColumn(VideoColumn, new VectorDataViewType(NumberDataViewType.Single, options.Frames, MovingFashionMnistOptions.Channels, options.Height, options.Width));
        var names = new VBuffer<ReadOnlyMemory<char>>(ClassNames.Length, ClassNames.Select(c => c.AsMemory()).ToArray());
        var meta = new DataViewSchema.Annotations.Builder();
        meta.Add(ColumnNames.KeyValues, new VectorDataViewType(TextDataViewType.Instance, ClassNames.Length), (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        b.AddColumn(LabelColumn, new KeyDataViewType(typeof(uint), ClassNames.Length), meta.ToAnnotations());
        Schema = b.ToSchema();
    }

    /// <summary>The settings.</summary>
    public MovingFashionMnistOptions Options { get; }

    /// <summary>Builds clip <paramref name="index"/>: T×3×H×W floats in [0,1] and its class (0-based, see <see cref="ClassNames"/>).</summary>
    public (float[] Clip, int Label) GetClip(int index)
    {
        if ((uint)index >= (uint)Options.Count) throw new ArgumentOutOfRangeException(nameof(index), $"Clip index must be in 0..{Options.Count - 1}.");
        var clip = new float[Options.ClipSize];
        int label = Render(index, clip);
        return (clip, label);
    }

    private int Render(int index, Span<float> dst)
    {
        var o = Options;
        // Per-clip stream: clip i depends only on (seed, i), whatever order rows are read in. The pair is hashed, so
        // neighbouring clips are unrelated (not HashCode: it is randomised per process).
        var rng = SplitMix64.ForPair(o.Seed, index);
        int label = rng.Next(ClassNames.Length);
        int item = rng.Next(_sprites.Count);
        int x0 = rng.Next(o.Width), y0 = rng.Next(o.Height);
        Span<float> tint = stackalloc float[3];
        for (int c = 0; c < 3; c++) tint[c] = 0.4f + 0.6f * (float)rng.NextDouble();
        var sprite = _sprites.Downsample(item, o.ItemSize);
        var (dx, dy) = Directions[label];
        dst.Clear();
        int plane = o.Height * o.Width;
        for (int t = 0; t < o.Frames; t++)
        {
            int ox = x0 + dx * o.Speed * t, oy = y0 + dy * o.Speed * t;
            for (int r = 0; r < o.ItemSize; r++)
            for (int q = 0; q < o.ItemSize; q++)
            {
                float v = sprite[r * o.ItemSize + q];
                if (v == 0) continue;
                int y = Mod(oy + r, o.Height), x = Mod(ox + q, o.Width);
                for (int c = 0; c < 3; c++) dst[(t * 3 + c) * plane + y * o.Width + x] = v * tint[c];
            }
        }
        return label;
    }

    internal static int Mod(int a, int m) => ((a % m) + m) % m;

    /// <inheritdoc/>
    public bool CanShuffle => true;
    /// <inheritdoc/>
    public DataViewSchema Schema { get; }
    /// <inheritdoc/>
    public long? GetRowCount() => Options.Count;
    /// <inheritdoc/>
    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet(), rand);
    /// <inheritdoc/>
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly MovingFashionMnist _v;
        private readonly HashSet<int> _active;
        private readonly int[]? _order;
        private long _pos = -1;
        private long _rendered = -1;
        private readonly float[] _clip;
        private int _label;

        public Cursor(MovingFashionMnist v, HashSet<int> active, Random? rand)
        {
            _v = v; _active = active;
            _clip = new float[v.Options.ClipSize];
            if (rand != null)
            {
                _order = Enumerable.Range(0, v.Options.Count).ToArray();
                for (int i = _order.Length - 1; i > 0; i--) { int j = rand.Next(i + 1); (_order[i], _order[j]) = (_order[j], _order[i]); }
            }
        }

        private int Row => _order?[_pos] ?? (int)_pos;
        public override DataViewSchema Schema => _v.Schema;
        public override long Position => _pos;
        public override long Batch => 0;
        public override bool MoveNext() => ++_pos < _v.Options.Count;
        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);
        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)Row, 0);

        private void Ensure()
        {
            if (_pos < 0 || _pos >= _v.Options.Count) throw new InvalidOperationException("The cursor is not on a row.");
            if (_rendered == _pos) return;
            _label = _v.Render(Row, _clip); // rendered once per row, shared by both getters
            _rendered = _pos;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            Delegate g = column.Index switch
            {
                0 => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
                {
                    Ensure();
                    var ed = VBufferEditor.Create(ref dst, _clip.Length);
                    _clip.CopyTo(ed.Values);
                    dst = ed.Commit();
                }),
                1 => (ValueGetter<uint>)((ref uint key) => { Ensure(); key = (uint)_label + 1; }),
                _ => throw new ArgumentOutOfRangeException(nameof(column)),
            };
            return (ValueGetter<TValue>)g;
        }
    }
}
