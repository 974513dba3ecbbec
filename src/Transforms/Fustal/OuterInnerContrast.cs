namespace MLNetExtensions.Transforms.Fustal;

/// <summary>Outer-inner contrast score of a run (CoLA <c>get_proposal_oic</c>).</summary>
public static class OuterInnerContrast
{
    /// <summary>
    /// <c>mean(cas[first..last]) − mean(cas on the margins) + classWeight·videoScore</c>. The margins are
    /// <c>[int(first − margin·len), first)</c> and <c>(last, int(last + margin·len)]</c> clipped to the sequence
    /// (int truncates toward zero, as Python's); no margin positions give an outer mean of 0.
    /// </summary>
    public static double Score(ReadOnlySpan<double> cas, int first, int last, double videoScore, double margin = 0.25, double classWeight = 0.2)
    {
        if (first < 0 || last < first || last >= cas.Length)
            throw new ArgumentOutOfRangeException(nameof(last), $"Run [{first}, {last}] is outside a sequence of {cas.Length}.");
        int len = last - first + 1;
        double inner = 0;
        for (int i = first; i <= last; i++) inner += cas[i];
        inner /= len;
        int outerS = Math.Max(0, (int)(first - margin * len));
        int outerE = Math.Min(cas.Length - 1, (int)(last + margin * len));
        double outer = 0;
        int n = 0;
        for (int i = outerS; i < first; i++) { outer += cas[i]; n++; }
        for (int i = last + 1; i <= outerE; i++) { outer += cas[i]; n++; }
        double outerMean = n == 0 ? 0 : outer / n;
        return inner - outerMean + classWeight * videoScore;
    }
}
