namespace MLNetExtensions.Transforms.Fustal;

/// <summary>Maximal runs of consecutive positive positions (CoLA <c>grouping</c> of <c>np.where(x &gt; 0)</c>).</summary>
public static class ProposalGrouping
{
    /// <summary>
    /// Zeroes values below <paramref name="threshold"/>, then returns the [first, last] index ranges of consecutive
    /// strictly positive values with at least <paramref name="minLength"/> positions.
    /// </summary>
    public static List<(int First, int Last)> Runs(ReadOnlySpan<double> values, double threshold, int minLength = 2)
    {
        var runs = new List<(int, int)>();
        int start = -1;
        for (int i = 0; i <= values.Length; i++)
        {
            bool on = i < values.Length && !(values[i] < threshold) && values[i] > 0;
            if (on && start < 0) start = i;
            else if (!on && start >= 0)
            {
                if (i - start >= minLength) runs.Add((start, i - 1));
                start = -1;
            }
        }
        return runs;
    }
}
