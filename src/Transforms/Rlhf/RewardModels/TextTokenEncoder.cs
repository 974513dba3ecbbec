using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Text;

namespace MLNetExtensions.Transforms.Rlhf.RewardModels;

/// <summary>A <see cref="TextTokenizer"/> as the binders' <see cref="ITokenEncoder"/> (with or without bos/eos).</summary>
public sealed class TextTokenEncoder : ITokenEncoder
{
    private readonly bool _bos, _eos;

    /// <summary>Wraps <paramref name="tokenizer"/>; <paramref name="addBos"/>/<paramref name="addEos"/> add the special tokens.</summary>
    public TextTokenEncoder(TextTokenizer tokenizer, bool addBos, bool addEos)
    {
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        _bos = addBos; _eos = addEos;
    }

    /// <summary>The tokenizer.</summary>
    public TextTokenizer Tokenizer { get; }

    /// <inheritdoc/>
    public int PadId => TextTokenizer.PadId;

    /// <inheritdoc/>
    public IReadOnlyList<int> Encode(string text)
    {
        var e = Tokenizer.Encode(text, addBos: _bos, addEos: _eos);
        var ids = new int[e.Length];
        for (int i = 0; i < ids.Length; i++) ids[i] = (int)e.Ids[i];
        return ids;
    }
}
