using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Interop;

namespace MLNetExtensions.Transforms.Video;

/// <summary>What a <see cref="VideoFramesTransformer"/> does: columns, clip geometry and where relative paths resolve.</summary>
/// <param name="OutputColumnName">Clip column added: <c>Vector&lt;Single, T, 3, H, W&gt;</c>, RGB in [0, 1], frame-major.</param>
/// <param name="InputColumnName">Text column of video file paths.</param>
/// <param name="Frames">Frames T sampled uniformly over each video.</param>
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
        ArgumentOutOfRangeException.ThrowIfLessThan(Frames, 1, nameof(Frames));
        ArgumentOutOfRangeException.ThrowIfLessThan(Height, 1, nameof(Height));
        ArgumentOutOfRangeException.ThrowIfLessThan(Width, 1, nameof(Width));
        ArgumentOutOfRangeException.ThrowIfLessThan(ParallelDecodes, 1, nameof(ParallelDecodes));
        if ((long)Frames * 3 * Height * Width > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(Frames), $"A clip of {Frames}×3×{Height}×{Width} values is too large for one vector.");
    }

    /// <summary>The output column's type: <c>Vector&lt;Single, T, 3, H, W&gt;</c>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public VectorDataViewType OutputType => new(NumberDataViewType.Single, Frames, 3, Height, Width);
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
public sealed class VideoFramesTransformer : ITransformer
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

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <summary>Checks that the path column exists and is text; throws naming it otherwise.</summary>
    internal static DataViewSchema.Column CheckInput(DataViewSchema schema, string column)
    {
        var col = schema.GetColumnOrNull(column) ?? throw SchemaError.Missing(column, "a text column of video file paths");
        if (col.Type is not TextDataViewType) throw SchemaError.WrongType(column, "a text column (String) of video file paths", col.Type);
        return col;
    }

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        CheckInput(inputSchema, Column.InputColumnName);
        var b = new DataViewSchema.Builder();
        b.AddColumns(inputSchema);
        b.AddColumn(Column.OutputColumnName, Column.OutputType);
        return b.ToSchema();
    }

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new View(this, input);
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return new Mapper(this, inputSchema);
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
    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        MLNetInternals.Save(ctx, Version, typeof(VideoFramesTransformer), w => w.Write(JsonSerializer.Serialize(Column)),
            Array.Empty<(string, Action<BinaryWriter>)>());

    /// <summary>ML.NET's loader entry (<c>SignatureLoadModel</c>); <paramref name="ctx"/> is its ModelLoadContext.</summary>
    private static VideoFramesTransformer Create(IHostEnvironment env, object ctx)
    {
        var load = MLNetInternals.OpenLoad(ctx, Version, typeof(VideoFramesTransformer));
        var column = JsonSerializer.Deserialize<VideoFramesColumn>(load.Reader.ReadString())
            ?? throw new InvalidDataException("The video transform's description is empty.");
        return new VideoFramesTransformer(env, column);
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        MLNetInternals.RegisterLoader(catalog, typeof(VideoFramesTransformer), LoaderSignature,
            typeof(VideoFramesTransformer).GetMethod(nameof(Create), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!);

    // ---- Transform: a lazy view ---------------------------------------------------------------------------------
    private sealed class View : IDataView
    {
        private readonly VideoFramesTransformer _parent;
        private readonly IDataView _input;
        private readonly int _pathIndex;

        public View(VideoFramesTransformer parent, IDataView input)
        {
            _parent = parent; _input = input;
            Schema = parent.GetOutputSchema(input.Schema);
            _pathIndex = input.Schema[parent.Column.InputColumnName].Index;
        }

        public bool CanShuffle => _input.CanShuffle;
        public DataViewSchema Schema { get; }
        public long? GetRowCount() => _input.GetRowCount();

        private IEnumerable<DataViewSchema.Column> Upstream(IEnumerable<DataViewSchema.Column> needed, out bool clip)
        {
            int n = _input.Schema.Count;
            var list = needed.ToList();
            clip = list.Any(c => c.Index >= n);
            var up = list.Where(c => c.Index < n).Select(c => _input.Schema[c.Index]).ToList();
            if (clip && !up.Any(c => c.Index == _pathIndex)) up.Add(_input.Schema[_pathIndex]);
            return up;
        }

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            var needed = columnsNeeded.ToList();
            var up = Upstream(needed, out var clip);
            var active = needed.Select(c => c.Index).ToHashSet();
            if (!clip || _parent.Column.ParallelDecodes <= 1)
                return new Cursor(this, _input.GetRowCursor(up, rand), active, clip, null);
            // Read-ahead: a second cursor over the path column only, in the same order (same shuffle seed), starts up to
            // ParallelDecodes decodes ahead of the reader. Each clip is used only if the row's own path matches, so an
            // input that does not repeat its order costs speed, never correctness.
            int seed = rand?.Next() ?? 0;
            var reader = _input.GetRowCursor(up, rand == null ? null : new Random(seed));
            var lead = _input.GetRowCursor(new[] { _input.Schema[_pathIndex] }, rand == null ? null : new Random(seed));
            return new Cursor(this, reader, active, clip, lead);
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        {
            // Several cursors decode in parallel when the consumer asks for them and the input can split.
            var needed = columnsNeeded.ToList();
            var up = Upstream(needed, out var clip);
            var active = needed.Select(c => c.Index).ToHashSet();
            if (n <= 1) return new[] { GetRowCursor(needed, rand) };
            return _input.GetRowCursorSet(up, n, rand).Select(c => (DataViewRowCursor)new Cursor(this, c, active, clip, null)).ToArray();
        }

        private sealed class Cursor : AppendedColumnsCursor
        {
            private readonly View _v;
            private readonly ValueGetter<VBuffer<float>>? _clip;
            private readonly DataViewRowCursor? _lead;
            private readonly ValueGetter<ReadOnlyMemory<char>>? _leadPath;
            private readonly Queue<(string Path, Task<float[]> Clip)> _ahead = new();
            private (string Path, Task<float[]> Clip)? _current;
            private bool _leadDone;

            public Cursor(View v, DataViewRowCursor input, HashSet<int> active, bool clip, DataViewRowCursor? lead)
                : base(v.Schema, v._input.Schema, input, active)
            {
                _v = v; _lead = lead;
                if (lead != null) _leadPath = lead.GetGetter<ReadOnlyMemory<char>>(lead.Schema[v._pathIndex]);
                _clip = clip ? v._parent.MakeClipGetter(input, lead == null ? null : Ahead) : null;
            }

            protected override void OnMoved()
            {
                if (_lead == null) return;
                Refill();
                _current = _ahead.Count > 0 ? _ahead.Dequeue() : null;
                Refill();
            }

            // Keeps ParallelDecodes decodes running ahead of the reader.
            private void Refill()
            {
                ReadOnlyMemory<char> p = default;
                while (!_leadDone && _ahead.Count < _v._parent.Column.ParallelDecodes)
                {
                    if (!_lead!.MoveNext()) { _leadDone = true; break; }
                    _leadPath!(ref p);
                    var text = p.ToString();
                    long row = _lead.Position;
                    var parent = _v._parent;
                    var task = Task.Run(() => parent.Decode(text, row));
                    _ = task.ContinueWith(t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted); // observed even if never read
                    _ahead.Enqueue((text, task));
                }
            }

            private Task<float[]>? Ahead(string path) => _current is { } c && c.Path == path ? c.Clip : null;

            protected override ValueGetter<TValue> GetOutputGetter<TValue>(DataViewSchema.Column column, int output) =>
                ClipGetter<TValue>(_clip, column, "was not requested when the cursor was created");

            protected override void Dispose(bool disposing)
            {
                if (disposing) _lead?.Dispose();
                base.Dispose(disposing);
            }
        }
    }

    // ---- PredictionEngine: row to row ---------------------------------------------------------------------------
    private sealed class Mapper : IRowToRowMapper
    {
        private readonly VideoFramesTransformer _parent;

        public Mapper(VideoFramesTransformer parent, DataViewSchema input)
        {
            _parent = parent; InputSchema = input; OutputSchema = parent.GetOutputSchema(input);
        }

        public DataViewSchema InputSchema { get; }
        public DataViewSchema OutputSchema { get; }

        public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns) =>
            AppendedColumns.Dependencies(InputSchema, dependingColumns, _parent.Column.InputColumnName);

        public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
            new Row(this, input, activeColumns.Select(c => c.Index).ToHashSet());

        private sealed class Row : AppendedColumnsRow
        {
            private readonly ValueGetter<VBuffer<float>>? _clip;

            public Row(Mapper m, DataViewRow input, HashSet<int> active) : base(m.OutputSchema, m.InputSchema, input, active)
            {
                _clip = AnyOutputActive ? m._parent.MakeClipGetter(input) : null;
            }

            protected override ValueGetter<TValue> GetOutputGetter<TValue>(DataViewSchema.Column column, int output) =>
                ClipGetter<TValue>(_clip, column, "is not active in this row");
        }
    }

    /// <summary>The clip column's getter, typed; errors name the column.</summary>
    private static ValueGetter<TValue> ClipGetter<TValue>(ValueGetter<VBuffer<float>>? clip, DataViewSchema.Column column, string whyMissing)
    {
        if (clip is null) throw new InvalidOperationException($"Column '{column.Name}' {whyMissing}.");
        if (typeof(TValue) != typeof(VBuffer<float>))
            throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}; asked for {typeof(TValue).Name}.");
        return (ValueGetter<TValue>)(Delegate)clip;
    }
}
