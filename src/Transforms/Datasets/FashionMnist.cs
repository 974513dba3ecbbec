using System.IO.Compression;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

using MLNetExtensions.Core.Data;

namespace MLNetExtensions.Transforms.Datasets;

/// <summary>Which part of Fashion-MNIST.</summary>
public enum FashionMnistSplit { Train, Test }

/// <summary>
/// Fashion-MNIST (Zalando, MIT) as an <see cref="IDataView"/> with an <c>Image</c> column (MLImage, 28×28, grey
/// stored as BGRA), a <c>Pixels</c> column (Vector&lt;Single, 1, 28, 28&gt; in [0,1]) and a key-typed <c>Label</c>
/// whose key values are the class names. Files are looked up in <c>$FASHION_MNIST_DIR</c>, then
/// <c>/usr/share/datasets/fashion-mnist</c> (Debian package <c>dataset-fashion-mnist</c>), else an embedded subset
/// (3,000 train / 1,000 test images).
/// </summary>
public static class FashionMnist
{
    /// <summary>The ten class names, in label order.</summary>
    public static readonly string[] ClassNames =
        { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" };

    /// <summary>Debian's install location.</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Where the data comes from: a folder, or null for the embedded subset.</summary>
    public static string? LocateDirectory(string? directory = null)
    {
        var candidates = directory != null ? new[] { directory } : new[] { Environment.GetEnvironmentVariable("FASHION_MNIST_DIR"), DebianDirectory };
        foreach (var d in candidates)
            if (!string.IsNullOrEmpty(d) && File.Exists(Path.Combine(d, FileName(FashionMnistSplit.Train, true))))
                return d;
        if (directory != null) throw new DirectoryNotFoundException($"Fashion-MNIST files ({FileName(FashionMnistSplit.Train, true)} …) were not found in '{directory}'.");
        return null;
    }

    private static string FileName(FashionMnistSplit split, bool images) =>
        $"{(split == FashionMnistSplit.Train ? "train" : "t10k")}-{(images ? "images-idx3" : "labels-idx1")}-ubyte.gz";

    /// <summary>Loads a split. <paramref name="maxRows"/> keeps the first N rows.</summary>
    public static IDataView Load(MLContext mlContext, FashionMnistSplit split, int? maxRows = null, string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        var dir = LocateDirectory(directory);
        var (images, rows, cols) = ReadImages(Open(dir, FileName(split, true)), Describe(dir, split, true));
        var labels = ReadLabels(Open(dir, FileName(split, false)), Describe(dir, split, false));
        int n = images.Length / (rows * cols);
        if (labels.Length != n) throw new InvalidDataException($"Fashion-MNIST {split}: {n} images but {labels.Length} labels ({Describe(dir, split, false)}).");
        if (maxRows is int m) n = Math.Min(n, Math.Max(0, m));
        return new FashionMnistView(images, labels, n, rows, cols);
    }

    /// <summary>True when the full data set (not the embedded subset) is available.</summary>
    public static bool FullDataAvailable => LocateDirectory() != null;

    private static string Describe(string? dir, FashionMnistSplit split, bool images) =>
        dir == null ? $"embedded {FileName(split, images)}" : Path.Combine(dir, FileName(split, images));

    private static Stream Open(string? dir, string file)
    {
        if (dir != null) return File.OpenRead(Path.Combine(dir, file));
        return Assembly.GetExecutingAssembly().GetManifestResourceStream("MLNetExtensions.Data." + file)
            ?? throw new FileNotFoundException($"Embedded Fashion-MNIST resource '{file}' is missing from MLNetExtensions.Core.");
    }

    private static byte[] ReadAll(Stream s, string what)
    {
        try
        {
            using var gz = new GZipStream(s, CompressionMode.Decompress);
            using var ms = new MemoryStream();
            gz.CopyTo(ms);
            return ms.ToArray();
        }
        catch (InvalidDataException e) { throw new InvalidDataException($"'{what}' is not a valid gzip file: {e.Message}", e); }
    }

    private static int BigEndian(byte[] b, int at) => (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];

    internal static (byte[] Pixels, int Rows, int Cols) ReadImages(Stream s, string what)
    {
        var b = ReadAll(s, what);
        if (b.Length < 16 || BigEndian(b, 0) != 0x803) throw new InvalidDataException($"'{what}' is not an IDX image file (magic 0x00000803).");
        int n = BigEndian(b, 4), r = BigEndian(b, 8), c = BigEndian(b, 12);
        if (b.Length - 16 < (long)n * r * c) throw new InvalidDataException($"'{what}' is truncated: header says {n} images of {r}×{c}.");
        return (b.AsSpan(16, n * r * c).ToArray(), r, c);
    }

    internal static byte[] ReadLabels(Stream s, string what)
    {
        var b = ReadAll(s, what);
        if (b.Length < 8 || BigEndian(b, 0) != 0x801) throw new InvalidDataException($"'{what}' is not an IDX label file (magic 0x00000801).");
        int n = BigEndian(b, 4);
        if (b.Length - 8 < n) throw new InvalidDataException($"'{what}' is truncated: header says {n} labels.");
        var l = b.AsSpan(8, n).ToArray();
        if (l.Any(v => v > 9)) throw new InvalidDataException($"'{what}' has labels outside 0–9.");
        return l;
    }

    /// <summary>A lazy, shuffle-capable view over the decoded bytes; images are created per row when cursored.</summary>
    private sealed class FashionMnistView : IDataView
    {
        private readonly byte[] _px, _labels;
        private readonly int _n, _rows, _cols;
        public FashionMnistView(byte[] px, byte[] labels, int n, int rows, int cols)
        {
            _px = px; _labels = labels; _n = n; _rows = rows; _cols = cols;
            var b = new DataViewSchema.Builder();
            b.AddColumn(ColumnNames.Image, new ImageDataViewType(rows, cols));
            b.AddColumn("Pixels", new VectorDataViewType(NumberDataViewType.Single, 1, rows, cols));
            var names = new VBuffer<ReadOnlyMemory<char>>(10, ClassNames.Select(c => c.AsMemory()).ToArray());
            var meta = new DataViewSchema.Annotations.Builder();
            meta.Add(ColumnNames.KeyValues, new VectorDataViewType(TextDataViewType.Instance, 10), (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
            b.AddColumn(ColumnNames.Label, new KeyDataViewType(typeof(uint), 10), meta.ToAnnotations());
            Schema = b.ToSchema();
        }
        public bool CanShuffle => true;
        public DataViewSchema Schema { get; }
        public long? GetRowCount() => _n;
        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
            new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet(), rand);
        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            new[] { GetRowCursor(columnsNeeded, rand) };

        private sealed class Cursor : DataViewRowCursor
        {
            private readonly FashionMnistView _v;
            private readonly HashSet<int> _active;
            private readonly int[]? _order;
            private long _pos = -1;
            private MLImage? _last;
            public Cursor(FashionMnistView v, HashSet<int> active, Random? rand)
            {
                _v = v; _active = active;
                if (rand != null)
                {
                    _order = Enumerable.Range(0, v._n).ToArray();
                    for (int i = _order.Length - 1; i > 0; i--) { int j = rand.Next(i + 1); (_order[i], _order[j]) = (_order[j], _order[i]); }
                }
            }
            private int Row => _order?[_pos] ?? (int)_pos;
            public override DataViewSchema Schema => _v.Schema;
            public override long Position => _pos;
            public override long Batch => 0;
            public override bool MoveNext() => ++_pos < _v._n;
            public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);
            public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)Row, 0);

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                int size = _v._rows * _v._cols;
                Delegate g = column.Index switch
                {
                    0 => (ValueGetter<MLImage>)((ref MLImage img) =>
                    {
                        img?.Dispose(); // ImageAnalytics convention: the getter owns the previous image
                        var bgra = new byte[size * 4];
                        var src = _v._px.AsSpan(Row * size, size);
                        for (int i = 0; i < size; i++) { bgra[4 * i] = bgra[4 * i + 1] = bgra[4 * i + 2] = src[i]; bgra[4 * i + 3] = 255; }
                        img = MLImage.CreateFromPixels(_v._cols, _v._rows, MLPixelFormat.Bgra32, bgra);
                        _last = img;
                    }),
                    1 => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
                    {
                        var ed = VBufferEditor.Create(ref dst, size);
                        var src = _v._px.AsSpan(Row * size, size);
                        for (int i = 0; i < size; i++) ed.Values[i] = src[i] / 255f;
                        dst = ed.Commit();
                    }),
                    2 => (ValueGetter<uint>)((ref uint key) => key = (uint)_v._labels[Row] + 1),
                    _ => throw new ArgumentOutOfRangeException(nameof(column)),
                };
                return (ValueGetter<TValue>)g;
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing) _last?.Dispose();
                base.Dispose(disposing);
            }
        }
    }
}
