using System.ComponentModel;
using System.Diagnostics;

namespace MLNetExtensions.Transforms.Video;

/// <summary>Locates and runs the <c>ffmpeg</c> / <c>ffprobe</c> executables (Debian package <c>ffmpeg</c>).</summary>
public static class FfmpegProcess
{
    /// <summary>Default ffmpeg executable: the <c>MLNETEXT_FFMPEG</c> environment variable, else <c>ffmpeg</c> on the PATH.</summary>
    public static string DefaultFfmpegPath =>
        Environment.GetEnvironmentVariable("MLNETEXT_FFMPEG") is { Length: > 0 } p ? p : "ffmpeg";

    /// <summary>Default ffprobe executable: the <c>MLNETEXT_FFPROBE</c> environment variable, else <c>ffprobe</c> on the PATH.</summary>
    public static string DefaultFfprobePath =>
        Environment.GetEnvironmentVariable("MLNETEXT_FFPROBE") is { Length: > 0 } p ? p : "ffprobe";

    /// <summary>True when both executables start and answer <c>-version</c>.</summary>
    public static bool IsAvailable(string? ffmpegPath = null, string? ffprobePath = null) =>
        Answers(ffmpegPath ?? DefaultFfmpegPath) && Answers(ffprobePath ?? DefaultFfprobePath);

    private static bool Answers(string exe)
    {
        try
        {
            var r = Run(exe, new[] { "-hide_banner", "-version" }, null, CancellationToken.None);
            return r.ExitCode == 0;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Result of one run: exit code, all of stdout as bytes, and stderr as text.</summary>
    internal readonly record struct Result(int ExitCode, byte[] Stdout, string Stderr)
    {
        /// <summary>First non-empty stderr line, for messages.</summary>
        public string FirstError => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .FirstOrDefault() ?? $"exit code {ExitCode}";
    }

    /// <summary>
    /// Runs an executable with arguments (no shell), optionally writing <paramref name="stdin"/>; stdout and stderr are
    /// drained concurrently so neither pipe can fill and block the child.
    /// </summary>
    internal static Result Run(string exe, IEnumerable<string> args, byte[]? stdin, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);

        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start '{exe}'.");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                $"The '{exe}' executable was not found or could not start. Install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg) " +
                "or set MLNETEXT_FFMPEG / MLNETEXT_FFPROBE to the executables.", e);
        }

        using (process)
        using (cancellationToken.Register(() => { try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } }))
        {
            var stderrTask = process.StandardError.ReadToEndAsync();
            var stdoutTask = Task.Run(() =>
            {
                using var ms = new MemoryStream();
                process.StandardOutput.BaseStream.CopyTo(ms);
                return ms.ToArray();
            });
            if (stdin is not null)
            {
                try
                {
                    process.StandardInput.BaseStream.Write(stdin);
                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // The child closed its input early (it failed); its exit code and stderr tell why.
                }
            }
            process.WaitForExit();
            var stdout = stdoutTask.GetAwaiter().GetResult();
            var stderr = stderrTask.GetAwaiter().GetResult();
            cancellationToken.ThrowIfCancellationRequested();
            return new Result(process.ExitCode, stdout, stderr);
        }
    }
}
