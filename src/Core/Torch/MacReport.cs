namespace MLNetExtensions.Core.Torch;

/// <summary>
/// Result of <see cref="MacCounter.Count"/>: multiply-accumulates of one forward pass and the module's parameters.
/// </summary>
/// <param name="Macs">All multiply-accumulates counted (Linear/Conv weights, plus matmuls modules report).</param>
/// <param name="Parameters">Parameter elements of the counted module.</param>
/// <param name="ByModule">MACs per source: a Linear/Conv module's path (e.g. <c>encoder.block1.0.attn.q.module</c>), or a
/// reporting module's path plus the label it gave (e.g. <c>encoder.block1.0.attn.attn@v</c>). A module called several times
/// (weight sharing) accumulates all its calls.</param>
public sealed record MacReport(long Macs, long Parameters, IReadOnlyDictionary<string, long> ByModule)
{
    /// <summary>Sum of the entries whose source name satisfies <paramref name="predicate"/>.</summary>
    public long MacsWhere(Func<string, bool> predicate) => ByModule.Where(kv => predicate(kv.Key)).Sum(kv => kv.Value);

    /// <summary>MACs in units of 10⁹.</summary>
    public double GMacs => Macs / 1e9;
}
