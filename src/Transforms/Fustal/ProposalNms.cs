namespace MLNetExtensions.Transforms.Fustal;

/// <summary>CoLA's hard NMS over one class's proposals (<c>utils.nms</c>), with its "+1" length convention.</summary>
public static class ProposalNms
{
    /// <summary>
    /// Repeatedly keeps the best-scoring proposal (ties: the later one, as numpy <c>argsort()[::-1]</c>) and drops the
    /// rest whose <see cref="SegmentMath.IoUPlusOne"/> with it is ≥ <paramref name="threshold"/>. Output in keep order.
    /// </summary>
    public static List<TemporalProposal> Suppress(IReadOnlyList<TemporalProposal> proposals, double threshold = 0.5)
    {
        ArgumentNullException.ThrowIfNull(proposals);
        var order = SegmentMath.DescendingLaterFirst(proposals.Select(p => p.Score).ToArray()).ToList();
        var keep = new List<TemporalProposal>();
        while (order.Count > 0)
        {
            var best = proposals[order[0]];
            keep.Add(best);
            var rest = new List<int>(order.Count - 1);
            for (int k = 1; k < order.Count; k++)
            {
                var p = proposals[order[k]];
                if (SegmentMath.IoUPlusOne(best.Start, best.End, p.Start, p.End) < threshold) rest.Add(order[k]);
            }
            order = rest;
        }
        return keep;
    }
}
