using MLNetExtensions.Core.Text;
using MLNetExtensions.Transforms.Rlhf.RewardModels;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.Rlhf.Sweep;

/// <summary>
/// One reward model of the sweep: a checkpoint of a training run (knob "step") or a converged knob RM (knob
/// "fraction" / "noise"), with its dev metrics, its weights (CPU) and, for the preference kind, μ and σ of its scores
/// over the feedback-train answers. <see cref="Scorer"/> builds a network with these weights.
/// </summary>
internal sealed class SweepRewardModel : IDisposable
{
    public required string Task { get; init; }
    public required string RmId { get; init; }
    public required string Knob { get; init; }
    public double DataFraction { get; init; } = 1;
    public double ExtraNoise { get; init; }
    public required RewardModelCheckpoint Checkpoint { get; init; }
    public required TextRewardModelArchitecture Architecture { get; init; }
    public required TextRewardModelServing Serving { get; set; }
    public required Dictionary<string, Tensor> Weights { get; init; }
    public bool IsEvalRm { get; set; }

    private TextRewardScorer? _scorer;

    /// <summary>A scorer over a network holding this RM's weights (built once).</summary>
    public TextRewardScorer Scorer(TextTokenizer tokenizer)
    {
        if (_scorer != null && _scorer.Serving == Serving) return _scorer;
        if (_scorer == null)
        {
            var net = new TextRewardNetwork(Architecture);
            using (no_grad())
            {
                var sd = net.state_dict();
                foreach (var (k, v) in Weights)
                {
                    if (!sd.TryGetValue(k, out var dst)) throw new InvalidDataException($"Sweep RM {Task}/{RmId}: weight '{k}' is not in the network.");
                    dst.copy_(v);
                }
            }
            _scorer = new TextRewardScorer(net, tokenizer, Serving);
        }
        else _scorer = new TextRewardScorer(_scorer.Network, tokenizer, Serving);
        return _scorer;
    }

    public void Dispose()
    {
        _scorer?.Network.Dispose();
        foreach (var t in Weights.Values) t.Dispose();
    }
}
