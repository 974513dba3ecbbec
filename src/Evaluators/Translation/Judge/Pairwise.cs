using Microsoft.Data.Analysis;

namespace MLNetExtensions.Evaluators.Translation.Judge;

/// <summary>Two systems' translations of one document, to compare.</summary>
public sealed record PairwiseItem(string DocumentId, string SystemA, string HypothesisA, string SystemB, string HypothesisB,
    string? Reference = null, string? Source = null, string? TargetLanguage = null);

/// <summary>Outcome of one pair judged in both orders.</summary>
/// <param name="Item">The pair.</param>
/// <param name="AFirst">Winner when A was shown first: "A", "B", "tie" or null (failed).</param>
/// <param name="BFirst">Winner when B was shown first, mapped back to "A"/"B"/"tie", or null.</param>
/// <param name="Winner">Final: "A", "B" or "tie" (orders disagreeing → tie); null when a call failed.</param>
/// <param name="Consistent">Both orders gave the same winner.</param>
/// <param name="Error">Failure reason.</param>
public sealed record PairwiseJudgement(PairwiseItem Item, string? AFirst, string? BFirst, string? Winner, bool Consistent, string? Error)
{
    internal static PairwiseJudgement Combine(PairwiseItem item, string? p1, string? p2, string? error)
    {
        // p1: "1" = A (shown first); p2: "1" = B (shown first).
        string? a = p1 switch { "1" => "A", "2" => "B", "tie" => "tie", _ => null };
        string? b = p2 switch { "1" => "B", "2" => "A", "tie" => "tie", _ => null };
        if (a is null || b is null) return new PairwiseJudgement(item, a, b, null, false, error ?? "no verdict");
        return new PairwiseJudgement(item, a, b, a == b ? a : "tie", a == b, null);
    }
}

/// <summary>Pairwise results with win rates and the position-bias diagnostics.</summary>
public sealed class PairwiseReport
{
    internal PairwiseReport(IReadOnlyList<PairwiseJudgement> judgements) => Judgements = judgements;

    /// <summary>One entry per pair.</summary>
    public IReadOnlyList<PairwiseJudgement> Judgements { get; }
    private IEnumerable<PairwiseJudgement> Decided => Judgements.Where(j => j.Winner is not null);
    private double Rate(Func<PairwiseJudgement, bool> f) => Decided.Any() ? Decided.Count(f) / (double)Decided.Count() : double.NaN;

    /// <summary>Pairs with no verdict (a call failed in some order).</summary>
    public int Failed => Judgements.Count(j => j.Winner is null);
    /// <summary>Share of decided pairs won by A.</summary>
    public double WinRateA => Rate(j => j.Winner == "A");
    /// <summary>Share of decided pairs won by B.</summary>
    public double WinRateB => Rate(j => j.Winner == "B");
    /// <summary>Share of ties (including order-dependent verdicts).</summary>
    public double TieRate => Rate(j => j.Winner == "tie");
    /// <summary>Share of pairs whose winner changed when the order was swapped.</summary>
    public double InconsistencyRate => Rate(j => !j.Consistent);
    /// <summary>How often the translation shown first won, over both orders (0.5 = no position bias).</summary>
    public double FirstPositionWinRate
    {
        get
        {
            int first = 0, decisive = 0;
            foreach (var j in Decided)
            {
                if (j.AFirst is "A" or "B") { decisive++; if (j.AFirst == "A") first++; }
                if (j.BFirst is "A" or "B") { decisive++; if (j.BFirst == "B") first++; }
            }
            return decisive == 0 ? double.NaN : first / (double)decisive;
        }
    }

    /// <summary>One row per pair.</summary>
    public DataFrame ToDataFrame() => new(
        new StringDataFrameColumn("document_id", Judgements.Select(j => j.Item.DocumentId)),
        new StringDataFrameColumn("system_a", Judgements.Select(j => j.Item.SystemA)),
        new StringDataFrameColumn("system_b", Judgements.Select(j => j.Item.SystemB)),
        new StringDataFrameColumn("a_first", Judgements.Select(j => j.AFirst)),
        new StringDataFrameColumn("b_first", Judgements.Select(j => j.BFirst)),
        new StringDataFrameColumn("winner", Judgements.Select(j => j.Winner)),
        new BooleanDataFrameColumn("consistent", Judgements.Select(j => j.Consistent)),
        new StringDataFrameColumn("error", Judgements.Select(j => j.Error)));
}
