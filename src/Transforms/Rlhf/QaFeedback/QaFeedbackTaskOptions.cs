namespace MLNetExtensions.Transforms.Rlhf.QaFeedback;

/// <summary>Sizes and noise rates of the synthetic QA-feedback-like task (note §7.1); the defaults are the note's.</summary>
public sealed record QaFeedbackTaskOptions
{
    /// <summary>Number of entities E0..E{n−1} (default 16).</summary>
    public int Entities { get; init; } = 16;
    /// <summary>Number of attributes A0..; the passage gives one value for each (default 8).</summary>
    public int Attributes { get; init; } = 8;
    /// <summary>Number of values V0.. (default 32).</summary>
    public int Values { get; init; } = 32;
    /// <summary>Fewest attributes a question asks for (default 2).</summary>
    public int MinAsked { get; init; } = 2;
    /// <summary>Most attributes a question asks for (default 4).</summary>
    public int MaxAsked { get; init; } = 4;
    /// <summary>Most sentences in an answer (default 6).</summary>
    public int MaxSentences { get; init; } = 6;
    /// <summary>SFT generator: probability that an asked attribute is answered (default 0.7).</summary>
    public double IncludeProbability { get; init; } = 0.7;
    /// <summary>SFT generator: probability that an answered attribute gets a wrong value (default 0.25).</summary>
    public double WrongValueProbability { get; init; } = 0.25;
    /// <summary>SFT generator: most irrelevant or repeated sentences added (uniform 0..this; default 2).</summary>
    public int MaxExtraSentences { get; init; } = 2;
    /// <summary>Annotation noise η: each feedback label or preference is flipped with this probability, on train and dev (default 0.15).</summary>
    public double AnnotationNoise { get; init; } = 0.15;

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Entities < 1) throw new ArgumentOutOfRangeException(nameof(Entities), Entities, "QaFeedbackTaskOptions.Entities must be ≥ 1.");
        if (Values < 2) throw new ArgumentOutOfRangeException(nameof(Values), Values, "QaFeedbackTaskOptions.Values must be ≥ 2 (a wrong value needs another value).");
        if (Attributes < 2) throw new ArgumentOutOfRangeException(nameof(Attributes), Attributes, "QaFeedbackTaskOptions.Attributes must be ≥ 2.");
        if (MinAsked < 1 || MaxAsked < MinAsked || MaxAsked > Attributes)
            throw new ArgumentOutOfRangeException(nameof(MaxAsked), $"QaFeedbackTaskOptions: need 1 ≤ MinAsked ≤ MaxAsked ≤ Attributes, got {MinAsked}, {MaxAsked}, {Attributes}.");
        if (MaxSentences < MaxAsked) throw new ArgumentOutOfRangeException(nameof(MaxSentences), MaxSentences, "QaFeedbackTaskOptions.MaxSentences must be ≥ MaxAsked.");
        if (MaxExtraSentences < 0) throw new ArgumentOutOfRangeException(nameof(MaxExtraSentences), MaxExtraSentences, "QaFeedbackTaskOptions.MaxExtraSentences must be ≥ 0.");
        Check(IncludeProbability, nameof(IncludeProbability));
        Check(WrongValueProbability, nameof(WrongValueProbability));
        Check(AnnotationNoise, nameof(AnnotationNoise));
        if (AnnotationNoise >= 0.5) throw new ArgumentOutOfRangeException(nameof(AnnotationNoise), AnnotationNoise, "QaFeedbackTaskOptions.AnnotationNoise must be < 0.5 (otherwise labels carry no signal).");
    }

    private static void Check(double p, string name)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(name, p, $"QaFeedbackTaskOptions.{name} must be a probability in [0, 1].");
    }
}
