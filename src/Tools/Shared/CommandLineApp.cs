using System.CommandLine;

namespace MLNetExtensions.CommandLine;

/// <summary>A usage mistake the parser cannot see (a missing either-or option): message, exit code 1.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// The one way the suite's command-line programs (the <c>excp</c> tool and the examples) parse and run, on
/// System.CommandLine: <c>--help</c> everywhere with defaults shown, parse errors as one line naming the option (no
/// stack trace), and documented exit codes: 0 success, 1 usage or input error (bad option value, missing file),
/// 2 a failure of the work itself (corrupt data, a run that did not reach its target). Set
/// <c>MLNETEXT_STACKTRACE=1</c> to also print the stack trace of a failure. Compiled into each program from this one
/// file (the library packages stay free of System.CommandLine).
/// </summary>
internal static class CommandLineApp
{
    /// <summary>Exit code of a usage or input error.</summary>
    public const int UsageError = 1;
    /// <summary>Exit code of a failure of the work itself.</summary>
    public const int Failure = 2;

    /// <summary>The help text's closing line about exit codes.</summary>
    public const string ExitCodesHelp = "Exit codes: 0 ok, 1 usage or input error, 2 failure.";

    /// <summary>
    /// Parses <paramref name="args"/> against <paramref name="root"/> and runs the chosen action. With no arguments
    /// and subcommands to choose from, prints the help and returns 1. <paramref name="classify"/> may map an exception
    /// to an exit code (null = the default: input errors 1, anything else 2); <paramref name="name"/> prefixes the
    /// messages.
    /// </summary>
    public static int Run(RootCommand root, string[] args, TextWriter? stdout = null, TextWriter? stderr = null, Func<Exception, int?>? classify = null,
        string? name = null)
    {
        name ??= root.Name; // the executable's name unless the program gives its own (in-process callers)
        stdout ??= Console.Out;
        stderr ??= Console.Error;
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        if (args.Length == 0 && root.Subcommands.Count > 0)
        {
            root.Parse("--help").Invoke(config);
            return UsageError;
        }
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (var e in result.Errors) stderr.WriteLine($"{name}: {e.Message}");
            stderr.WriteLine($"Run '{name} --help' for usage.");
            return UsageError;
        }
        try
        {
            return result.Invoke(config);
        }
        catch (Exception e)
        {
            var inner = e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerExceptions[0] : e;
            int code = classify?.Invoke(inner) ?? (IsInputError(inner) ? UsageError : Failure);
            stderr.WriteLine($"{name}: {inner.Message}");
            if (inner is UsageException) stderr.WriteLine($"Run '{name} --help' for usage.");
            if (Environment.GetEnvironmentVariable("MLNETEXT_STACKTRACE") == "1") stderr.WriteLine(inner);
            return code;
        }
    }

    /// <summary>Exceptions that mean the user gave something wrong (exit code 1).</summary>
    public static bool IsInputError(Exception e) =>
        e is UsageException or ArgumentException or IOException or FormatException or KeyNotFoundException
            or UnauthorizedAccessException or NotSupportedException;

    /// <summary>An option with a description and a default value that the help shows.</summary>
    public static Option<T> Defaulted<T>(string name, string description, T defaultValue) =>
        new(name) { Description = description, DefaultValueFactory = _ => defaultValue };
}
