namespace MLNetExtensions.Transforms.Rlhf.QaFeedback;

/// <summary>
/// Deterministic generator of the synthetic task (note §7.1): questions, and the noisy SFT answers that train the
/// initial policy (each asked attribute answered with p = 0.7, a wrong value with p = 0.25, 0–2 irrelevant or repeated
/// sentences, random order). Every method takes its own seed; the same seed gives the same data.
/// </summary>
public sealed class QaFeedbackGenerator
{
    /// <summary>Creates a generator for the given task sizes.</summary>
    public QaFeedbackGenerator(QaFeedbackTaskOptions? options = null)
    {
        Options = options ?? new QaFeedbackTaskOptions();
        Options.Validate();
    }

    /// <summary>The task sizes and rates.</summary>
    public QaFeedbackTaskOptions Options { get; }

    /// <summary><paramref name="count"/> questions drawn from <paramref name="seed"/>.</summary>
    public IReadOnlyList<QaExample> Questions(int count, int seed)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "QaFeedbackGenerator.Questions: count must be ≥ 0.");
        var rng = new Random(seed);
        var list = new List<QaExample>(count);
        for (int i = 0; i < count; i++) list.Add(Question(rng));
        return list;
    }

    /// <summary>One question.</summary>
    public QaExample Question(Random rng)
    {
        var o = Options;
        int entity = rng.Next(o.Entities);
        var values = new int[o.Attributes];
        for (int k = 0; k < values.Length; k++) values[k] = rng.Next(o.Values);
        int n = rng.Next(o.MinAsked, o.MaxAsked + 1);
        var asked = Enumerable.Range(0, o.Attributes).ToArray();
        Shuffle(asked, rng);
        return new QaExample(entity, values, asked.Take(n).ToArray());
    }

    /// <summary>A noisy SFT answer to <paramref name="example"/> (never empty: with no asked attribute drawn, one is answered).</summary>
    public QaAnswer NoisyAnswer(QaExample example, Random rng)
    {
        var o = Options;
        var sentences = new List<AnswerSentence>();
        foreach (int k in example.Asked)
            if (rng.NextDouble() < o.IncludeProbability) sentences.Add(Sentence(example, k, rng));
        if (sentences.Count == 0) sentences.Add(Sentence(example, example.Asked[rng.Next(example.Asked.Count)], rng));
        int extras = rng.Next(o.MaxExtraSentences + 1);
        var notAsked = Enumerable.Range(0, o.Attributes).Where(k => !example.Asked.Contains(k)).ToArray();
        for (int i = 0; i < extras && sentences.Count < o.MaxSentences; i++)
        {
            bool repeat = notAsked.Length == 0 || rng.NextDouble() < 0.5;
            int k = repeat ? sentences[rng.Next(sentences.Count)].Attribute : notAsked[rng.Next(notAsked.Length)];
            sentences.Add(Sentence(example, k, rng));
        }
        var arr = sentences.ToArray();
        Shuffle(arr, rng);
        return new QaAnswer(arr);
    }

    /// <summary>SFT pairs (question, noisy answer) for <paramref name="count"/> questions from <paramref name="seed"/>.</summary>
    public IReadOnlyList<(QaExample Example, QaAnswer Answer)> SftData(int count, int seed)
    {
        var questions = Questions(count, seed);
        var rng = new Random(unchecked(seed * 7919 + 17));
        return questions.Select(q => (q, NoisyAnswer(q, rng))).ToArray();
    }

    private AnswerSentence Sentence(QaExample example, int attribute, Random rng)
    {
        int value = example.PassageValues[attribute];
        if (rng.NextDouble() < Options.WrongValueProbability)
            value = (value + 1 + rng.Next(Options.Values - 1)) % Options.Values;       // any other value, uniformly
        return new AnswerSentence(example.Entity, attribute, value);
    }

    internal static void Shuffle<T>(T[] a, Random rng)
    {
        for (int i = a.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (a[i], a[j]) = (a[j], a[i]);
        }
    }
}
