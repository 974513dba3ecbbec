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
            foreach (var e in result.Errors) stderr.WriteLine($"{name}: {OneLine(e.Message)}");
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

    /// <summary>
    /// For a program written as top-level statements that reads its options after parsing (the examples): returns the
    /// parse result to go on with, or null with <paramref name="exitCode"/> set when the program should stop here
    /// (<c>--help</c>: 0; a bad option value: 1, one line naming the option). From then on an exception the program
    /// does not catch ends it as <see cref="Run"/> would: one line on stderr, exit code 1 for input errors, else 2,
    /// no stack trace (unless <c>MLNETEXT_STACKTRACE=1</c>).
    /// </summary>
    public static ParseResult? Parse(RootCommand root, string[] args, out int exitCode, string? name = null)
    {
        name ??= root.Name;
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (var e in result.Errors) Console.Error.WriteLine($"{name}: {OneLine(e.Message)}");
            Console.Error.WriteLine($"Run '{name} --help' for usage.");
            exitCode = UsageError;
            return null;
        }
        if (result.Action != null) // --help (or another built-in action): the root itself has none
        {
            exitCode = result.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
            return null;
        }
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            var inner = e.ExceptionObject as Exception ?? new Exception(e.ExceptionObject?.ToString());
            if (inner is AggregateException { InnerExceptions.Count: 1 } a) inner = a.InnerExceptions[0];
            Console.Out.Flush();
            Console.Error.WriteLine($"{name}: {inner.Message}");
            if (inner is UsageException) Console.Error.WriteLine($"Run '{name} --help' for usage.");
            if (Environment.GetEnvironmentVariable("MLNETEXT_STACKTRACE") == "1") Console.Error.WriteLine(inner);
            Console.Error.Flush();
            Environment.Exit(IsInputError(inner) ? UsageError : Failure); // before the runtime prints the stack trace
        };
        exitCode = 0;
        return result;
    }

    /// <summary>Makes <paramref name="option"/> reject a path that names no existing file (exit code 1 at parse time).</summary>
    public static Option<string?> ExistingFile(this Option<string?> option)
    {
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && r.GetValueOrDefault<string?>() is string path && !File.Exists(path))
                r.AddError($"{option.Name}: no file '{path}'.");
        });
        return option;
    }

    /// <summary>A comma-separated list option ("1,2,3") with a default that the help shows.</summary>
    public static Option<T[]> DefaultedList<T>(string name, string description, params T[] defaultValue) where T : IParsable<T> =>
        new(name) { Description = description, DefaultValueFactory = _ => defaultValue, CustomParser = r => ParseList<T>(r, name) ?? defaultValue };

    /// <summary>A comma-separated list option ("1,2,3"); null when not given.</summary>
    public static Option<T[]?> ListOption<T>(string name, string description) where T : IParsable<T> =>
        new(name) { Description = description, CustomParser = r => ParseList<T>(r, name) };

    private static T[]? ParseList<T>(System.CommandLine.Parsing.ArgumentResult r, string name) where T : IParsable<T>
    {
        if (r.Tokens.Count == 0) return null;
        var values = new List<T>();
        foreach (var v in r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            if (T.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var x)) values.Add(x);
            else r.AddError($"Cannot parse '{v}' for option '{name}': expected a comma-separated list of {typeof(T).Name}.");
        }
        return values.ToArray();
    }

    /// <summary>A parser message on one line (the list of allowed values comes on several).</summary>
    private static string OneLine(string message) =>
        string.Join(' ', message.Split(new[] { '\r', '\n', '\t' }, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>Exceptions that mean the user gave something wrong (exit code 1).</summary>
    public static bool IsInputError(Exception e) =>
        e is UsageException or ArgumentException or IOException or FormatException or KeyNotFoundException
            or UnauthorizedAccessException or NotSupportedException;

    /// <summary>An option with a description and a default value that the help shows.</summary>
    public static Option<T> Defaulted<T>(string name, string description, T defaultValue) =>
        new(name) { Description = description, DefaultValueFactory = _ => defaultValue };
}
