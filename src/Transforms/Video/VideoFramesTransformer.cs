using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Interop;

namespace MLNetExtensions.Transforms.Video;

/// <summary>What a <see cref="VideoFramesTransformer"/> does: columns, clip geometry and where relative paths resolve.</summary>
/// <param name="OutputColumnName">Clip column added: <c>Vector&lt;Single, T, 3, H, W&gt;</c>, RGB in [0, 1], frame-major
/// (with <paramref name="Frames"/> = 0 a variable-length <c>Vector&lt;Single&gt;</c> of N·3·H·W values, N the video's frames).</param>
/// <param name="InputColumnName">Text column of video file paths.</param>
/// <param name="Frames">Frames T sampled uniformly over each video; 0 = every frame (untrimmed videos, e.g. for a snippet featuriser).</param>
/// <param name="Height">Frame height H after resizing.</param>
/// <param name="Width">Frame width W after resizing.</param>
/// <param name="VideoFolder">Folder that relative paths are resolved against; null = the current directory.</param>
/// <param name="ParallelDecodes">Clips decoded ahead of the reader at the same time (ffmpeg processes); 1 = one at a time, on read.</param>
public sealed record VideoFramesColumn(string OutputColumnName, string InputColumnName, int Frames, int Height, int Width, string? VideoFolder = null,
    int ParallelDecodes = 1)
{
    /// <summary>Checks names and sizes; throws naming the bad value.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(OutputColumnName, nameof(OutputColumnName));
        ArgumentException.ThrowIfNullOrWhiteSpace(InputColumnName, nameof(InputColumnName));
        ArgumentOutOfRangeException.ThrowIfLessThan(Frames, 0, nameof(Frames));
        ArgumentOutOfRangeException.ThrowIfLessThan(Height, 1, nameof(Height));
        ArgumentOutOfRangeException.ThrowIfLessThan(Width, 1, nameof(Width));
        ArgumentOutOfRangeException.ThrowIfLessThan(ParallelDecodes, 1, nameof(ParallelDecodes));
        if ((long)Frames * 3 * Height * Width > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(Frames), $"A clip of {Frames}×3×{Height}×{Width} values is too large for one vector.");
    }

    /// <summary>The output column's type: <c>Vector&lt;Single, T, 3, H, W&gt;</c>, or a variable-length <c>Vector&lt;Single&gt;</c> when <see cref="Frames"/> = 0.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public VectorDataViewType OutputType => Frames == 0 ? new(NumberDataViewType.Single) : new(NumberDataViewType.Single, Frames, 3, Height, Width);
}

/// <summary>
/// Decodes video files named in a text column into clips of <c>T</c> uniformly sampled frames resized to H×W
/// (<see cref="VideoFrameDecoder"/>, ffmpeg), as a <c>Vector&lt;Single, T, 3, H, W&gt;</c> column of RGB values in
/// [0, 1], frame-major — the layout <c>mlContext.MulticlassClassification.Trainers.SqueezeTime</c> reads.
/// </summary>
/// <remarks>
/// Lazy: a clip is decoded when its getter is called (not at <c>Fit</c>, not for rows whose clip column is not
/// read), once per row and cursor. Every epoch of a trainer decodes again, so put
/// <c>.AppendCacheCheckpoint(mlContext)</c> after this transform when training several epochs.
/// Errors name the column, the row index and the file: <see cref="FileNotFoundException"/> for a missing file,
/// <see cref="VideoDecodingException"/> for a file that is not a video, unreadable, or has fewer than T frames.
/// Round-trips through <c>mlContext.Model.Save/Load</c> (after <c>mlContext.RegisterMLNetExtensions()</c>);
/// <c>PredictionEngine</c> works. ffmpeg/ffprobe are found as <see cref="FfmpegProcess"/> says (PATH or
/// <c>MLNETEXT_FFMPEG</c>/<c>MLNETEXT_FFPROBE</c>) on the machine that runs the model; they are not saved.
/// </remarks>
public sealed class VideoFramesTransformer : AppendedColumnsTransformer
{
    internal const string LoaderSignature = "MLNetExtVideoFrames";
    private static readonly MLNetInternals.ModelVersion Version = new("MLXTVIDF", 0x00010001, 0x00010001, 0x00010001, LoaderSignature);

    private readonly IHost _host;
    private readonly VideoFrameDecoder _decoder;

    /// <summary>Creates the transformer (no decoding happens here).</summary>
    public VideoFramesTransformer(IHostEnvironment env, VideoFramesColumn column)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(column);
        column.Validate();
        _host = env.Register(nameof(VideoFramesTransformer));
        Column = column;
        _decoder = new VideoFrameDecoder(column.Frames, column.Height, column.Width);
    }

    /// <summary>Columns, clip geometry and folder.</summary>
    public VideoFramesColumn Column { get; }

    /// <summary>Checks that the path column exists and is text; throws naming it otherwise.</summary>
    internal static DataViewSchema.Column CheckInput(DataViewSchema schema, string column)
    {
        var col = schema.GetColumnOrNull(column) ?? throw SchemaError.Missing(column, "a text column of video file paths");
        if (col.Type is not TextDataViewType) throw SchemaError.WrongType(column, "a text column (String) of video file paths", col.Type);
        return col;
    }

    /// <inheritdoc/>
    protected override string[] SourceColumns => new[] { Column.InputColumnName };

    /// <inheritdoc/>
    protected override void AddOutputColumns(DataViewSchema input, DataViewSchema.Builder builder)
    {
        CheckInput(input, Column.InputColumnName);
        builder.AddColumn(Column.OutputColumnName, Column.OutputType);
    }

    /// <inheritdoc/>
    protected override RowGetters MakeGetters(DataViewRow input) => new ClipGetters(MakeClipGetter(input));

    /// <summary>The clip column's getter (the only appended column).</summary>
    private sealed class ClipGetters : RowGetters
    {
        private readonly ValueGetter<VBuffer<float>> _clip;
        public ClipGetters(ValueGetter<VBuffer<float>> clip) => _clip = clip;
        public override ValueGetter<TValue> Getter<TValue>(DataViewSchema.Column column, int output) => Typed<TValue, VBuffer<float>>(_clip, column);
    }

    /// <summary>Full path of a row's video: relative paths resolve against <see cref="VideoFramesColumn.VideoFolder"/>.</summary>
    private string Resolve(string path) =>
        Column.VideoFolder is { Length: > 0 } folder && !Path.IsPathRooted(path) ? Path.Combine(folder, path) : path;

    /// <summary>Decodes the clip of one row; errors name the column, row and file.</summary>
    private float[] Decode(string pathText, long row)
    {
        var where = $"Column '{Column.InputColumnName}', row {row}";
        var raw = pathText.Trim();
        if (raw.Length == 0) throw new InvalidDataException($"{where}: the video path is empty.");
        var path = Resolve(raw);
        try { return _decoder.Decode(path); }
        catch (FileNotFoundException e) { throw new FileNotFoundException($"{where}: video file not found: '{path}'.", path, e); }
        catch (VideoDecodingException e) { throw new VideoDecodingException(path, $"{where}: {e.Message}", e); }
    }

    /// <summary>
    /// A getter over a row that decodes its clip once per row position (several getter calls on the same row, e.g. a
    /// cache and a trainer, decode once) and hands out copies. <paramref name="ahead"/>, when given, returns the clip
    /// a read-ahead cursor already started decoding for this row, if its path is the row's.
    /// </summary>
    private ValueGetter<VBuffer<float>> MakeClipGetter(DataViewRow input, Func<string, Task<float[]>?>? ahead = null)
    {
        var pathGetter = input.GetGetter<ReadOnlyMemory<char>>(input.Schema[Column.InputColumnName]);
        ReadOnlyMemory<char> path = default;
        float[] cached = Array.Empty<float>();
        long cachedPosition = -1;
        return (ref VBuffer<float> dst) =>
        {
            if (cachedPosition != input.Position || cachedPosition < 0)
            {
                pathGetter(ref path);
                var text = path.ToString();
                var task = ahead?.Invoke(text);
                cached = task != null ? task.GetAwaiter().GetResult() : Decode(text, input.Position);
                cachedPosition = input.Position;
            }
            var editor = VBufferEditor.Create(ref dst, cached.Length);
            cached.CopyTo(editor.Values);
            dst = editor.Commit();
        };
    }

    // ---- persistence --------------------------------------------------------------------------------------------
    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx) =>
        MLNetInternals.SaveJson(ctx, Version, typeof(VideoFramesTransformer), Column);

    /// <summary>ML.NET's loader entry (<c>SignatureLoadModel</c>); <paramref name="ctx"/> is its ModelLoadContext.</summary>
    private static VideoFramesTransformer Create(IHostEnvironment env, object ctx)
    {
        var column = MLNetInternals.LoadJson<VideoFramesColumn>(ctx, Version, typeof(VideoFramesTransformer), "video transform");
        return new VideoFramesTransformer(env, column);
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        MLNetInternals.RegisterCreateLoader(catalog, typeof(VideoFramesTransformer), LoaderSignature);

    // ---- Transform: a read-ahead cursor --------------------------------------------------------------------------
    /// <inheritdoc/>
    protected override DataViewRowCursor CreateCursor(IDataView input, DataViewSchema schema, IReadOnlyList<DataViewSchema.Column> upstream,
        HashSet<int> active, bool anyOutput, Random? rand)
    {
        if (!anyOutput || Column.ParallelDecodes <= 1) return base.CreateCursor(input, schema, upstream, active, anyOutput, rand);
        // Read-ahead: a second cursor over the path column only, in the same order (same shuffle seed), starts up to
        // ParallelDecodes decodes ahead of the reader. Each clip is used only if the row's own path matches, so an
        // input that does not repeat its order costs speed, never correctness.
        int seed = rand?.Next() ?? 0;
        var reader = input.GetRowCursor(upstream, rand == null ? null : new Random(seed));
        var pathColumn = input.Schema[Column.InputColumnName];
        var lead = input.GetRowCursor(new[] { pathColumn }, rand == null ? null : new Random(seed));
        return new ReadAheadCursor(this, schema, input.Schema, reader, active, lead, pathColumn);
    }

    private sealed class ReadAheadCursor : AppendedColumnsCursor
    {
        private readonly VideoFramesTransformer _parent;
        private readonly ValueGetter<VBuffer<float>> _clip;
        private readonly DataViewRowCursor _lead;
        private readonly ValueGetter<ReadOnlyMemory<char>> _leadPath;
        private readonly Queue<(string Path, Task<float[]> Clip)> _ahead = new();
        private (string Path, Task<float[]> Clip)? _current;
        private bool _leadDone;

        public ReadAheadCursor(VideoFramesTransformer parent, DataViewSchema schema, DataViewSchema inputSchema, DataViewRowCursor input,
            HashSet<int> active, DataViewRowCursor lead, DataViewSchema.Column pathColumn)
            : base(schema, inputSchema, input, active)
        {
            _parent = parent; _lead = lead;
            _leadPath = lead.GetGetter<ReadOnlyMemory<char>>(pathColumn);
            _clip = parent.MakeClipGetter(input, Ahead);
        }

        protected override void OnMoved()
        {
            Refill();
            _current = _ahead.Count > 0 ? _ahead.Dequeue() : null;
            Refill();
        }

        // Keeps ParallelDecodes decodes running ahead of the reader.
        private void Refill()
        {
            ReadOnlyMemory<char> p = default;
            while (!_leadDone && _ahead.Count < _parent.Column.ParallelDecodes)
            {
                if (!_lead.MoveNext()) { _leadDone = true; break; }
                _leadPath(ref p);
                var text = p.ToString();
                long row = _lead.Position;
                var parent = _parent;
                var task = Task.Run(() => parent.Decode(text, row));
                _ = task.ContinueWith(t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted); // observed even if never read
                _ahead.Enqueue((text, task));
            }
        }

        private Task<float[]>? Ahead(string path) => _current is { } c && c.Path == path ? c.Clip : null;

        protected override ValueGetter<TValue> GetOutputGetter<TValue>(DataViewSchema.Column column, int output) => Typed<TValue, VBuffer<float>>(_clip, column);

        protected override void Dispose(bool disposing)
        {
            if (disposing) _lead.Dispose();
            base.Dispose(disposing);
        }
    }
}
