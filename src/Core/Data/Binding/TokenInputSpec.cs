using System.Text.Json.Serialization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Core.Data.Binding;

/// <summary>Turns text into token ids; the component that owns it saves it with the model (e.g. a Microsoft.ML.Tokenizers tokenizer).</summary>
public interface ITokenEncoder
{
    /// <summary>Token ids of <paramref name="text"/>, special tokens (bos/eos) included as the owner defines.</summary>
    IReadOnlyList<int> Encode(string text);
    /// <summary>Id written into padding positions.</summary>
    int PadId { get; }
}

/// <summary>How text longer than <see cref="TokenInputSpec.MaxLength"/> tokens is cut.</summary>
public enum TruncationSide
{
    /// <summary>Keep the first tokens (drop the tail).</summary>
    KeepHead,
    /// <summary>Keep the last tokens (drop the head; e.g. for a prompt whose end matters).</summary>
    KeepTail,
}

/// <summary>
/// A text column read as token ids through <see cref="Encoder"/>: slot <c>Slot</c> holds int64 ids padded with the
/// encoder's pad id to <see cref="MaxLength"/> (with per-row lengths), slot <c>Slot.mask</c> holds the attention mask
/// (1 = token, 0 = padding). Longer text is cut per <see cref="Truncation"/> — explicitly, never silently at an
/// undocumented length. The encoder is not serialised with the spec: the owning model saves and re-attaches it.
/// </summary>
public sealed record TokenInputSpec(string Column, string Slot, int MaxLength) : InputSpec(Column, Slot)
{
    /// <summary>Suffix of the attention-mask slot.</summary>
    public const string MaskSuffix = ".mask";
    /// <summary>Which end is kept. Default <see cref="TruncationSide.KeepHead"/>.</summary>
    public TruncationSide Truncation { get; init; } = TruncationSide.KeepHead;
    /// <summary>The tokenizer (attached at run time).</summary>
    [JsonIgnore] public ITokenEncoder? Encoder { get; init; }

    /// <inheritdoc/>
    public override string Expected => "a text column";

    /// <inheritdoc/>
    protected override void CheckShape(SchemaShape.Column c)
    {
        if (c.ItemType is not TextDataViewType || c.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw SchemaError.WrongType(Column, Expected, $"{c.Kind} {c.ItemType}");
    }

    /// <inheritdoc/>
    protected override InputSpec ResolveType(DataViewType type, string what)
    {
        if (MaxLength < 1) throw new ArgumentOutOfRangeException(nameof(MaxLength), MaxLength, $"Token input '{Column}': MaxLength must be at least 1.");
        if (type is not TextDataViewType) throw SchemaError.WrongType(Column, Expected, type);
        return this;
    }

    /// <inheritdoc/>
    public override IEnumerable<(string, HostDType, long[], bool)> Buffers()
    {
        yield return (Slot, HostDType.Int64, new long[] { MaxLength }, true);
        yield return (Slot + MaskSuffix, HostDType.Int64, new long[] { MaxLength }, true);
    }

    /// <inheritdoc/>
    public override IRowReader CreateReader(DataViewRow row) => new Reader(this,
        Encoder ?? throw new InvalidOperationException($"Token input '{Column}' has no tokenizer attached."),
        row.GetGetter<ReadOnlyMemory<char>>(row.Schema[Column]));

    /// <summary>Ids of one text, cut to <see cref="MaxLength"/> as <see cref="Truncation"/> says.</summary>
    public int[] EncodeTruncated(ITokenEncoder encoder, string text)
    {
        var ids = encoder.Encode(text);
        if (ids.Count <= MaxLength) return ids.ToArray();
        return Truncation == TruncationSide.KeepHead ? ids.Take(MaxLength).ToArray() : ids.Skip(ids.Count - MaxLength).ToArray();
    }

    private sealed class Reader : IRowReader
    {
        private readonly TokenInputSpec _s; private readonly ITokenEncoder _enc; private readonly ValueGetter<ReadOnlyMemory<char>> _get;
        private ReadOnlyMemory<char> _text;
        public Reader(TokenInputSpec s, ITokenEncoder enc, ValueGetter<ReadOnlyMemory<char>> get) { _s = s; _enc = enc; _get = get; }
        public bool Read(HostBatch batch, int row)
        {
            _get(ref _text);
            var ids = _s.EncodeTruncated(_enc, _text.ToString());
            var idBuf = batch[_s.Slot]; var maskBuf = batch[_s.Slot + MaskSuffix];
            var idRow = idBuf.LongRow(row); var maskRow = maskBuf.LongRow(row);
            idRow.Fill(_enc.PadId); maskRow.Clear();
            for (int i = 0; i < ids.Length; i++) { idRow[i] = ids[i]; maskRow[i] = 1; }
            idBuf.Lengths![row] = maskBuf.Lengths![row] = Math.Max(ids.Length, 1);
            return true;
        }
    }
}
