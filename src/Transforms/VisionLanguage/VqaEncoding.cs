using MLNetExtensions.Core.Text;

namespace MLNetExtensions.Transforms.VisionLanguage;

/// <summary>
/// The VLM's text layout (the note's "plain"-like template): <c>[bos] &lt;image&gt; question answer [eos]</c>. The
/// prompt ends after the question; the answer and eos are the supervised tokens.
/// </summary>
public static class VqaEncoding
{
    /// <summary>Prompt ids: bos, the image placeholder, then the question's tokens.</summary>
    public static long[] Prompt(TextTokenizer tokenizer, string question)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(question);
        var q = tokenizer.Tokenize(question);
        if (q.Contains(TextTokenizer.ImageId)) throw new ArgumentException("The question text must not contain the <image> placeholder.", nameof(question));
        return new long[] { TextTokenizer.BosId, TextTokenizer.ImageId }.Concat(q.Select(i => (long)i)).ToArray();
    }

    /// <summary>Training ids (prompt + answer + eos) and the per-id supervision mask (1 on answer and eos).</summary>
    public static (long[] Ids, long[] Supervised) Training(TextTokenizer tokenizer, string question, string answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        var p = Prompt(tokenizer, question);
        var a = tokenizer.Tokenize(answer).Select(i => (long)i).Append(TextTokenizer.EosId).ToArray();
        var ids = p.Concat(a).ToArray();
        var sup = Enumerable.Repeat(0L, p.Length).Concat(Enumerable.Repeat(1L, a.Length)).ToArray();
        return (ids, sup);
    }

    /// <summary>The task tokenizer: the note's 21 words plus the six special tokens.</summary>
    public static TextTokenizer SceneTokenizer() =>
        TextTokenizer.Train(FashionSceneVqa.Words, new TextTokenizerOptions { LowerCase = true });
}
