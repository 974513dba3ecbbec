using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.Datasets.Video;

namespace MLNetExtensions.Transforms.VisionLanguage;

/// <summary>Question kinds of the 2×2 Fashion-MNIST scenes VQA (Align-KD note §5.1).</summary>
public enum VqaQuestionType
{
    /// <summary>"what is ⟨pos⟩ ?" → a class word (needs the text to look at one quadrant).</summary>
    What,
    /// <summary>"where is ⟨class⟩ ?" → a position word.</summary>
    Where,
    /// <summary>"is there ⟨class⟩ ?" → yes / no (50 % present).</summary>
    IsThere,
}

/// <summary>One VQA example: the four source items (TL, TR, BL, BR), the question and the answer.</summary>
/// <param name="Index">Row index (the example is a pure function of (seed, index, source)).</param>
/// <param name="SourceIndices">Source image rows of the four quadrants, TL, TR, BL, BR.</param>
/// <param name="Classes">Fashion-MNIST classes of the four quadrants (four distinct classes).</param>
/// <param name="Type">Question kind.</param>
/// <param name="Question">Question text, e.g. "what is topleft ?".</param>
/// <param name="Answer">Answer word.</param>
/// <param name="AskedQuadrant">Quadrant the question is about (What: the asked one; Where: the answer's; IsThere:
/// the item's quadrant when present), or −1 (IsThere with an absent class).</param>
public sealed record VqaExample(int Index, int[] SourceIndices, int[] Classes, VqaQuestionType Type, string Question, string Answer, int AskedQuadrant);

/// <summary>
/// The note's "2×2 Fashion-MNIST scenes" VQA (Align-KD §5.1): a 56×56 scene tiles four Fashion-MNIST items of four
/// distinct classes (TL, TR, BL, BR); one question per scene, its type drawn uniformly. Test scenes are built from the
/// test split only (<see cref="Create"/> with <see cref="FashionMnistSplit.Test"/>). Every example depends only on
/// (seed, index) and the source images, so a "fresh" stream is just increasing indices.
/// </summary>
public sealed class FashionSceneVqa
{
    /// <summary>Image column: Vector&lt;Single, 1, 56, 56&gt; in [0, 1].</summary>
    public const string ImageColumn = "Image";
    /// <summary>Question column (text).</summary>
    public const string QuestionColumn = "Question";
    /// <summary>Answer column (text).</summary>
    public const string AnswerColumn = "Answer";
    /// <summary>Question-type column (text: what / where / isthere).</summary>
    public const string TypeColumn = "QuestionType";
    /// <summary>Item side (Fashion-MNIST).</summary>
    public const int ItemSide = 28;
    /// <summary>Scene side (2 × 28).</summary>
    public const int SceneSide = 56;

    /// <summary>Single-token class words, in Fashion-MNIST label order.</summary>
    public static IReadOnlyList<string> ClassWords { get; } =
        new[] { "tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot" };
    /// <summary>Position words in quadrant order TL, TR, BL, BR.</summary>
    public static IReadOnlyList<string> PositionWords { get; } = new[] { "topleft", "topright", "bottomleft", "bottomright" };
    /// <summary>The task's words (the note's 21 non-special tokens), in a fixed order.</summary>
    public static IReadOnlyList<string> Words { get; } =
        new[] { "what", "where", "is", "there", "?" }.Concat(PositionWords).Concat(ClassWords).Concat(new[] { "yes", "no" }).ToArray();

    private readonly float[] _pixels; // n × 28 × 28 in [0,1]
    private readonly byte[] _labels;
    private readonly int[][] _byClass;

    /// <summary>Creates a generator over explicit source items (n × 28 × 28 intensities in [0,1], labels 0–9).</summary>
    public FashionSceneVqa(float[] sourcePixels, byte[] sourceLabels, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(sourcePixels);
        ArgumentNullException.ThrowIfNull(sourceLabels);
        if (sourceLabels.Length == 0 || sourcePixels.Length != sourceLabels.Length * ItemSide * ItemSide)
            throw new ArgumentException($"Expected {ItemSide}×{ItemSide} pixels per source label; got {sourcePixels.Length} pixels for {sourceLabels.Length} labels.", nameof(sourcePixels));
        if (sourceLabels.Any(l => l > 9)) throw new ArgumentException("Source labels must be Fashion-MNIST classes 0–9.", nameof(sourceLabels));
        _pixels = sourcePixels;
        _labels = sourceLabels;
        _byClass = Enumerable.Range(0, 10).Select(c => Enumerable.Range(0, sourceLabels.Length).Where(i => sourceLabels[i] == c).ToArray()).ToArray();
        var missing = Enumerable.Range(0, 10).Where(c => _byClass[c].Length == 0).ToArray();
        if (missing.Length > 0) throw new ArgumentException($"The source images lack classes {string.Join(", ", missing)}; every class is needed.", nameof(sourceLabels));
        Seed = seed;
    }

    /// <summary>Creates a generator whose items come from the first <paramref name="sourceRows"/> rows (after
    /// <paramref name="skipRows"/>) of a Fashion-MNIST split.</summary>
    public static FashionSceneVqa Create(MLContext mlContext, FashionMnistSplit split, int seed = 0, int? sourceRows = null, int skipRows = 0, string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        if (skipRows < 0) throw new ArgumentOutOfRangeException(nameof(skipRows), skipRows, "skipRows must be ≥ 0.");
        if (sourceRows is < 1) throw new ArgumentOutOfRangeException(nameof(sourceRows), sourceRows, "sourceRows must be ≥ 1 or null.");
        var (px, lab) = ReadSource(mlContext, split, sourceRows + skipRows, directory);
        int n = lab.Length - skipRows;
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(skipRows), skipRows, $"The {split} split has only {lab.Length} rows.");
        if (sourceRows is int r) n = Math.Min(n, r);
        return new FashionSceneVqa(px.AsSpan(skipRows * ItemSide * ItemSide, n * ItemSide * ItemSide).ToArray(), lab.AsSpan(skipRows, n).ToArray(), seed);
    }

    /// <summary>Reads a split's pixels (n × 784 in [0,1]) and labels 0–9.</summary>
    public static (float[] Pixels, byte[] Labels) ReadSource(MLContext mlContext, FashionMnistSplit split, int? maxRows = null, string? directory = null)
    {
        var source = FashionMnist.Load(mlContext, split, maxRows, directory);
        var pixels = new List<float>();
        var labels = new List<byte>();
        using var cursor = source.GetRowCursor(new[] { source.Schema["Pixels"], source.Schema[ColumnNames.Label] });
        var px = cursor.GetGetter<VBuffer<float>>(source.Schema["Pixels"]);
        var lab = cursor.GetGetter<uint>(source.Schema[ColumnNames.Label]);
        VBuffer<float> buf = default; uint key = 0;
        while (cursor.MoveNext())
        {
            px(ref buf); lab(ref key);
            pixels.AddRange(buf.DenseValues());
            labels.Add((byte)(key - 1));
        }
        return (pixels.ToArray(), labels.ToArray());
    }

    /// <summary>Seed of the layouts and questions.</summary>
    public int Seed { get; }
    /// <summary>Number of source images.</summary>
    public int SourceCount => _labels.Length;
    /// <summary>Source pixels (n × 28 × 28).</summary>
    public ReadOnlySpan<float> SourcePixels => _pixels;
    /// <summary>Source labels.</summary>
    public ReadOnlySpan<byte> SourceLabels => _labels;

    /// <summary>The example at <paramref name="index"/>: four distinct classes, one question.</summary>
    public VqaExample Example(int index)
    {
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index), index, "index must be ≥ 0.");
        var rng = SplitMix64.ForPair(Seed, index);
        var order = Enumerable.Range(0, 10).ToArray();
        for (int i = 9; i > 0; i--) { int j = rng.Next(i + 1); (order[i], order[j]) = (order[j], order[i]); }
        var classes = order.Take(4).ToArray();
        var sources = classes.Select(c => _byClass[c][rng.Next(_byClass[c].Length)]).ToArray();
        var type = (VqaQuestionType)rng.Next(3);
        switch (type)
        {
            case VqaQuestionType.What:
            {
                int q = rng.Next(4);
                return new VqaExample(index, sources, classes, type, $"what is {PositionWords[q]} ?", ClassWords[classes[q]], q);
            }
            case VqaQuestionType.Where:
            {
                int q = rng.Next(4);
                return new VqaExample(index, sources, classes, type, $"where is {ClassWords[classes[q]]} ?", PositionWords[q], q);
            }
            default:
            {
                bool present = rng.Next(2) == 0;
                if (present)
                {
                    int q = rng.Next(4);
                    return new VqaExample(index, sources, classes, type, $"is there {ClassWords[classes[q]]} ?", "yes", q);
                }
                int absent = order[4 + rng.Next(6)];
                return new VqaExample(index, sources, classes, type, $"is there {ClassWords[absent]} ?", "no", -1);
            }
        }
    }

    /// <summary>Renders an example's scene: 56×56 row-major intensities in [0,1] (TL, TR, BL, BR tiles).</summary>
    public float[] Render(VqaExample example)
    {
        var img = new float[SceneSide * SceneSide];
        for (int q = 0; q < 4; q++)
        {
            int top = q / 2 * ItemSide, left = q % 2 * ItemSide, src = example.SourceIndices[q] * ItemSide * ItemSide;
            for (int r = 0; r < ItemSide; r++)
                Array.Copy(_pixels, src + r * ItemSide, img, (top + r) * SceneSide + left, ItemSide);
        }
        return img;
    }

    /// <summary>Examples <paramref name="start"/> … start+count−1.</summary>
    public IReadOnlyList<VqaExample> Examples(int count, int start = 0) =>
        Enumerable.Range(start, count).Select(Example).ToArray();

    /// <summary>Type name used in the <see cref="TypeColumn"/> column.</summary>
    public static string TypeName(VqaQuestionType type) => type switch
    {
        VqaQuestionType.What => "what", VqaQuestionType.Where => "where", _ => "isthere",
    };

    /// <summary>
    /// The examples as an IDataView with columns Image (Vector&lt;Single, 1, 56, 56&gt;), Question, Answer and
    /// QuestionType (text). The scenes are rendered lazily when a row is read.
    /// </summary>
    public IDataView ToDataView(MLContext mlContext, int count, int start = 0)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be ≥ 0.");
        var rows = Enumerable.Range(start, count).Select(i =>
        {
            var e = Example(i);
            return new VqaRow { Image = Render(e), Question = e.Question, Answer = e.Answer, QuestionType = TypeName(e.Type) };
        });
        var schema = SchemaDefinition.Create(typeof(VqaRow));
        schema[nameof(VqaRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, SceneSide, SceneSide);
        return mlContext.Data.LoadFromEnumerable(rows, schema);
    }

    private sealed class VqaRow
    {
        public float[] Image { get; set; } = Array.Empty<float>();
        public string Question { get; set; } = "";
        public string Answer { get; set; } = "";
        public string QuestionType { get; set; } = "";
    }
}
