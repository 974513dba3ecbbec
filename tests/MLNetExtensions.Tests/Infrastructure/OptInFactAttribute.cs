using Xunit;

namespace MLNetExtensions.Tests.Infrastructure;

/// <summary>
/// A long or diagnostic test that runs only when <c>{variable}=1</c>; otherwise it is reported as skipped with the
/// reason (never as a pass that asserted nothing).
/// </summary>
public sealed class OptInFactAttribute : FactAttribute
{
    public OptInFactAttribute(string variable)
    {
        if (Environment.GetEnvironmentVariable(variable) != "1") Skip = $"opt-in: set {variable}=1 to run";
    }
}

/// <summary>
/// A test that compares our rooted helpers with TorchSharp's own (unrooted) calls as the reference: under
/// <c>MLNETEXT_GC_TORTURE=1</c> the reference side itself would fail by design, so the test is reported as skipped
/// there (it runs in every ordinary run).
/// </summary>
public sealed class NotUnderGcTortureFactAttribute : FactAttribute
{
    public NotUnderGcTortureFactAttribute()
    {
        if (GcTorture.WholeRun) Skip = "calls TorchSharp's unrooted operations as its reference; runs without MLNETEXT_GC_TORTURE";
    }
}

/// <summary>The <see cref="TheoryAttribute"/> form of <see cref="NotUnderGcTortureFactAttribute"/>.</summary>
public sealed class NotUnderGcTortureTheoryAttribute : TheoryAttribute
{
    public NotUnderGcTortureTheoryAttribute()
    {
        if (GcTorture.WholeRun) Skip = "calls TorchSharp's unrooted operations as its reference; runs without MLNETEXT_GC_TORTURE";
    }
}
