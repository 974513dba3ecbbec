using MLNetExtensions.Core.Inference;

namespace MLNetExtensions.Transforms.Excp;

/// <summary>Turns a chosen step of an ExCP training chain into a servable model.</summary>
public static class ExcpServing
{
    /// <summary>
    /// Loads the weights and float buffers of chain step <paramref name="step"/> (null = last) into the network of a
    /// fitted <paramref name="transformer"/> of the same architecture, in place; the transformer then serves that step
    /// (Transform, PredictionEngine, Save). Throws when the chain is empty, lacks the step, or the architecture differs.
    /// A transformer whose network was folded for serving (e.g. BatchNorm fused) has other parameters: use an unfolded one.
    /// </summary>
    public static long LoadStep(TorchTransformerBase transformer, string chainDirectory, long? step = null)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        var chain = ExcpChain.Open(chainDirectory);
        if (chain.Entries.Count == 0) throw new ArgumentException($"ExCP chain '{chainDirectory}' has no steps.", nameof(chainDirectory));
        long s = step ?? chain.Entries[^1].Step;
        TorchCheckpointAdapter.Restore(chain.Read(s), transformer.Model, null, strict: true);
        return s;
    }
}
