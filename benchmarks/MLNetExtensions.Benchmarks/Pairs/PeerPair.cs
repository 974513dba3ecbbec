namespace MLNetExtensions.Benchmarks.Pairs;

/// <summary>
/// One row of the side-by-side record (issue 20): our port against the official PyTorch code (Debian PyTorch 1.13 as
/// the peer), same weights and inputs, one intra-op thread each. The `-- pairs` command (PairsCommand) runs every
/// registered pair in interleaved rounds; each side runs in its own child process per setting because the
/// convolution backend cannot change inside a process once LibTorch has started.
/// </summary>
public abstract class PeerPair
{
    /// <summary>Row label, e.g. "SqueezeTime K400, 16×112², batch 2".</summary>
    public abstract string Name { get; }

    /// <summary>Short id used on the command line (`--only squeezetime-k400`).</summary>
    public abstract string Id { get; }

    /// <summary>Modes measured, e.g. "infer", "train" (items/s each).</summary>
    public virtual IReadOnlyList<string> Modes => ["infer", "train"];

    /// <summary>Writes the shared weights (PyTorch state dict the peer loads with strict=True) and inputs (.npy) into
    /// <paramref name="workDir"/> once, before any round.</summary>
    public abstract void Prepare(string workDir);

    /// <summary>Our side, called inside a child process whose convolution backend is already fixed: warm-up, then the
    /// median items/s of <paramref name="reps"/> timed repetitions of <paramref name="mode"/>.</summary>
    public abstract double MeasureOurs(string workDir, string mode, int reps);

    /// <summary>The peer: script path relative to benchmarks/MLNetExtensions.Benchmarks/python and its arguments. The
    /// script must print one line <c>items_per_s=&lt;value&gt;</c>; oneDNN on/off is passed as <c>--onednn on|off</c>
    /// (it sets <c>torch.backends.mkldnn.enabled</c>), threads as <c>--threads N</c>.</summary>
    public abstract (string Script, string[] Arguments) Peer(string workDir, string mode, bool oneDnn, int reps);

    /// <summary>Checks that both sides compute the same thing before timing (max |ours − peer| on the prepared input);
    /// returns the difference the report prints. Default: not checked.</summary>
    public virtual double? OutputDifference(string workDir) => null;
}
