namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// CoLA proposal generation for one video (note fustal.md §3.5; <c>get_pred_activations</c>, <c>get_proposal_dict</c>,
/// <c>nms</c>): predicted classes → min-max normalised, up-sampled CAS and actionness → runs above every threshold →
/// OIC scores → per-class "+1" NMS.
/// </summary>
public static class ProposalGenerator
{
    /// <summary>Classes with score ≥ <paramref name="threshold"/>, ascending; the first arg-max when none.</summary>
    public static int[] PredictedClasses(ReadOnlySpan<float> videoScores, double threshold)
    {
        if (videoScores.Length == 0) throw new ArgumentException("No class scores.", nameof(videoScores));
        var pred = new List<int>();
        int arg = 0;
        for (int c = 0; c < videoScores.Length; c++)
        {
            if (videoScores[c] >= threshold) pred.Add(c);
            if (videoScores[c] > videoScores[arg]) arg = c;
        }
        return pred.Count > 0 ? pred.ToArray() : new[] { arg };
    }

    /// <summary>
    /// Proposals (class, OIC score, start, end in seconds) of one video. <paramref name="cas"/> is T×C (snippets ×
    /// classes, the teacher's non-negative CAS), <paramref name="actionness"/> has T values, <paramref name="videoScores"/>
    /// C. <paramref name="originalLength"/> is the video's snippet count before resampling to T; a step of the up-sampled
    /// sequence lasts <c>FramesPerSnippet·originalLength / (UpScale·T·FeatureFps)</c> seconds. Classes come in order of
    /// first proposal (CAS thresholds first), each class's proposals in NMS keep order.
    /// </summary>
    public static List<TemporalProposal> Generate(float[,] cas, ReadOnlySpan<float> actionness, ReadOnlySpan<float> videoScores, int originalLength, ProposalOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(cas);
        options ??= new ProposalOptions();
        options.Validate();
        int t = cas.GetLength(0), nc = cas.GetLength(1);
        if (t == 0) throw new ArgumentException("The CAS has no snippets.", nameof(cas));
        if (actionness.Length != t) throw new ArgumentException($"Actionness has {actionness.Length} values but the CAS has {t} snippets.", nameof(actionness));
        if (videoScores.Length != nc) throw new ArgumentException($"{videoScores.Length} video scores but the CAS has {nc} classes.", nameof(videoScores));
        ArgumentOutOfRangeException.ThrowIfLessThan(originalLength, 1);

        var pred = PredictedClasses(videoScores, options.ClassThreshold);
        var casUp = new double[pred.Length][];
        var column = new float[t];
        for (int k = 0; k < pred.Length; k++)
        {
            for (int i = 0; i < t; i++) column[i] = cas[i, pred[k]];
            casUp[k] = ActivationSequence.Upsample(ActivationSequence.MinMaxNormalize(column), options.UpScale);
        }
        var aUp = ActivationSequence.Upsample(ActivationSequence.MinMaxNormalize(actionness), options.UpScale);
        int upLen = aUp.Length;
        int segments = upLen / options.UpScale; // the original's num_segments = shape[0] // UP_SCALE
        double tFactor = options.FramesPerSnippet * originalLength / (options.UpScale * segments * options.FeatureFps);

        var byClass = new Dictionary<int, List<TemporalProposal>>();
        var classOrder = new List<int>();
        void Add(int cls, TemporalProposal p)
        {
            if (!byClass.TryGetValue(cls, out var list)) { byClass[cls] = list = new List<TemporalProposal>(); classOrder.Add(cls); }
            list.Add(p);
        }

        var thresholded = new double[upLen];
        foreach (var th in options.CasThresholds)
            for (int k = 0; k < pred.Length; k++)
            {
                // OIC on the thresholded CAS: margins below θ count as 0.
                for (int i = 0; i < upLen; i++) thresholded[i] = casUp[k][i] < th ? 0 : casUp[k][i];
                foreach (var (first, last) in ProposalGrouping.Runs(thresholded, th, options.MinRunLength))
                    Add(pred[k], Make(pred[k], thresholded, first, last, videoScores[pred[k]], tFactor, options));
            }
        foreach (var th in options.ActionnessThresholds)
        {
            var runs = ProposalGrouping.Runs(aUp, th, options.MinRunLength);
            for (int k = 0; k < pred.Length; k++)
                foreach (var (first, last) in runs)
                    Add(pred[k], Make(pred[k], casUp[k], first, last, videoScores[pred[k]], tFactor, options));
        }

        var result = new List<TemporalProposal>();
        foreach (var cls in classOrder) result.AddRange(ProposalNms.Suppress(byClass[cls], options.NmsThreshold));
        return result;
    }

    private static TemporalProposal Make(int cls, double[] cas, int first, int last, double videoScore, double tFactor, ProposalOptions o) =>
        new(cls, OuterInnerContrast.Score(cas, first, last, videoScore, o.OuterMargin, o.ClassScoreWeight), first * tFactor, (last + 1) * tFactor);
}
