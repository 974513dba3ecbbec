namespace MLNetExtensions.Transforms.Excp;

/// <summary>A compressed checkpoint file (or chain) is corrupt, truncated, of an unknown version, or missing a link.</summary>
public sealed class ExcpFormatException : Exception
{
    /// <summary>Creates the exception; the message names the file and the step.</summary>
    public ExcpFormatException(string file, long? step, string message, Exception? inner = null)
        : base($"ExCP file '{file}'{(step is { } s ? $" (step {s})" : "")}: {message}", inner)
    {
        FilePath = file;
        Step = step;
    }

    /// <summary>The offending file.</summary>
    public string FilePath { get; }

    /// <summary>The step concerned, when known.</summary>
    public long? Step { get; }
}
