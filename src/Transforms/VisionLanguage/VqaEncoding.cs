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

    /// <summary>
    /// Teacher-forcing tensors of a batch: per row the real prompt ids then the real answer ids (answer + eos),
    /// right-padded. Returns ids (B, T) and mask for <see cref="MiniVlm.Run"/>, and the spliced targets and supervision
    /// mask (B, T − 1 + N) for <see cref="Language.TokenLogProbs.NextTokenLoss"/>.
    /// </summary>
    public static (long[] Ids, long[] Mask, long[] Targets, long[] LossMask, int Length) TeacherForcing(
        IReadOnlyList<long[]> prompts, IReadOnlyList<long[]> answers, int visionTokens)
    {
        if (prompts.Count != answers.Count) throw new ArgumentException($"{prompts.Count} prompts but {answers.Count} answers.");
        int b = prompts.Count, t = Enumerable.Range(0, b).Max(r => prompts[r].Length + answers[r].Length), l = t - 1 + visionTokens;
        var ids = new long[b * t]; var mask = new long[b * t]; var targets = new long[b * l]; var loss = new long[b * l];
        for (int r = 0; r < b; r++)
        {
            var row = prompts[r].Concat(answers[r]).ToArray();
            var sup = Enumerable.Repeat(0L, prompts[r].Length).Concat(Enumerable.Repeat(1L, answers[r].Length)).ToArray();
            row.CopyTo(ids, r * t);
            for (int j = 0; j < row.Length; j++) mask[r * t + j] = 1;
            var st = MiniVlm.SpliceIds(row, visionTokens);
            int s = Array.IndexOf(row, (long)TextTokenizer.ImageId);
            var sm = sup.Take(s).Concat(Enumerable.Repeat(0L, visionTokens)).Concat(sup.Skip(s + 1)).ToArray();
            st.CopyTo(targets, r * l);
            sm.CopyTo(loss, r * l);
        }
        return (ids, mask, targets, loss, t);
    }
}
