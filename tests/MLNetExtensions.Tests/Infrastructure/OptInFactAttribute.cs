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
