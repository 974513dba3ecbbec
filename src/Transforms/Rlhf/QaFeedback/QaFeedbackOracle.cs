namespace MLNetExtensions.Transforms.Rlhf.QaFeedback;

/// <summary>
/// The noise-free oracle of the synthetic task (note §7.1), exact functions of the question and the answer:
/// <list type="bullet">
/// <item>relevance of a sentence: its attribute is asked and was not mentioned earlier (irrelevant and repeated
/// sentences are NF-ERR; a malformed sentence is an error);</item>
/// <item>factuality of a sentence: the entity is the question's and the value is the passage value of the attribute
/// (otherwise F-ERR);</item>
/// <item>completeness: |{attributes mentioned} ∩ S| / |S| (malformed sentences mention nothing).</item>
/// </list>
/// Labels are <c>true</c> = no error ("O"), <c>false</c> = error.
/// </summary>
public static class QaFeedbackOracle
{
    /// <summary>Per-sentence relevance labels (true = O, false = NF-ERR).</summary>
    public static bool[] Relevance(QaExample example, QaAnswer answer)
    {
        var asked = new HashSet<int>(example.Asked);
        var seen = new HashSet<int>();
        var labels = new bool[answer.Sentences.Count];
        for (int i = 0; i < labels.Length; i++)
        {
            var s = answer.Sentences[i];
            if (!s.WellFormed) continue;
            labels[i] = asked.Contains(s.Attribute) && !seen.Contains(s.Attribute);
            seen.Add(s.Attribute);
        }
        return labels;
    }

    /// <summary>Per-sentence factuality labels (true = O, false = F-ERR).</summary>
    public static bool[] Factuality(QaExample example, QaAnswer answer)
    {
        var labels = new bool[answer.Sentences.Count];
        for (int i = 0; i < labels.Length; i++)
        {
            var s = answer.Sentences[i];
            labels[i] = s.WellFormed && s.Entity == example.Entity && s.Value == example.PassageValues[s.Attribute];
        }
        return labels;
    }

    /// <summary>Share of the asked attributes that the answer mentions (in [0, 1]).</summary>
    public static double Completeness(QaExample example, QaAnswer answer)
    {
        var mentioned = new HashSet<int>(answer.Sentences.Where(s => s.WellFormed).Select(s => s.Attribute));
        return example.Asked.Count(mentioned.Contains) / (double)example.Asked.Count;
    }

    /// <summary>Labels of one aspect (relevance or factuality).</summary>
    public static bool[] Labels(QaFeedbackAspect aspect, QaExample example, QaAnswer answer) => aspect switch
    {
        QaFeedbackAspect.Relevance => Relevance(example, answer),
        QaFeedbackAspect.Factuality => Factuality(example, answer),
        _ => throw new ArgumentOutOfRangeException(nameof(aspect), aspect, "QaFeedbackOracle.Labels: only relevance and factuality have per-sentence labels; completeness is a per-answer score."),
    };
}

/// <summary>The three feedback aspects (the paper's relevance / factuality / completeness reward models).</summary>
public enum QaFeedbackAspect
{
    /// <summary>Sub-sentence relevance (NF-ERR), judged without the passage.</summary>
    Relevance,
    /// <summary>Sentence factuality (F-ERR), judged with the passage.</summary>
    Factuality,
    /// <summary>Answer completeness, a preference (pairwise) reward model.</summary>
    Completeness,
}
