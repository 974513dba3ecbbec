using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Text;

namespace MLNetExtensions.Transforms.VisionLanguage;

/// <summary>Question column → prompt ids (bos, image placeholder, question tokens) through the model's tokenizer.</summary>
public sealed class VqaPromptEncoder : ITokenEncoder
{
    private readonly TextTokenizer _tok;
    /// <summary>Wraps the tokenizer.</summary>
    public VqaPromptEncoder(TextTokenizer tokenizer) => _tok = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
    /// <inheritdoc/>
    public IReadOnlyList<int> Encode(string text) => VqaEncoding.Prompt(_tok, text).Select(i => (int)i).ToArray();
    /// <inheritdoc/>
    public int PadId => TextTokenizer.PadId;
}

/// <summary>Answer column → answer ids followed by eos.</summary>
public sealed class VqaAnswerEncoder : ITokenEncoder
{
    private readonly TextTokenizer _tok;
    /// <summary>Wraps the tokenizer.</summary>
    public VqaAnswerEncoder(TextTokenizer tokenizer) => _tok = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
    /// <inheritdoc/>
    public IReadOnlyList<int> Encode(string text) => _tok.Tokenize(text).Append(TextTokenizer.EosId).ToArray();
    /// <inheritdoc/>
    public int PadId => TextTokenizer.PadId;
}
