using Microsoft.Extensions.Logging;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNetExtensions.Core.Logging;

/// <summary>
/// Forwards an <see cref="MLContext"/>'s log (ML.NET's own components and this suite's trainers, which log epochs,
/// validation, resumes and early stops through it) to a <see cref="ILogger"/>, so a service sees training in its
/// usual logging pipeline.
/// </summary>
public static class MLContextLogging
{
    /// <summary>
    /// Subscribes <paramref name="logger"/> to <paramref name="mlContext"/>'s log. ML.NET message kinds map to
    /// levels: Trace → <see cref="LogLevel.Trace"/>, Info → <see cref="LogLevel.Information"/>, Warning →
    /// <see cref="LogLevel.Warning"/>, Error → <see cref="LogLevel.Error"/>; the message reads <c>[source] message</c> (source e.g. <c>Train</c>), the source
    /// is also the event name. Levels the logger does not enable
    /// are dropped before formatting. Dispose the result to unsubscribe.
    /// </summary>
    public static IDisposable AddLogger(this MLContext mlContext, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(logger);
        void Handler(object? sender, LoggingEventArgs e)
        {
            var level = ToLevel(e.Kind);
            if (!logger.IsEnabled(level)) return;
            logger.Log(level, new EventId(0, e.Source), "[{Source}] {Message}", e.Source, e.RawMessage);
        }
        mlContext.Log += Handler;
        return new Subscription(() => mlContext.Log -= Handler);
    }

    /// <summary>The <see cref="LogLevel"/> of an ML.NET message kind.</summary>
    public static LogLevel ToLevel(ChannelMessageKind kind) => kind switch
    {
        ChannelMessageKind.Trace => LogLevel.Trace,
        ChannelMessageKind.Info => LogLevel.Information,
        ChannelMessageKind.Warning => LogLevel.Warning,
        ChannelMessageKind.Error => LogLevel.Error,
        _ => LogLevel.Information,
    };

    private sealed class Subscription(Action unsubscribe) : IDisposable
    {
        private Action? _unsubscribe = unsubscribe;
        public void Dispose() => Interlocked.Exchange(ref _unsubscribe, null)?.Invoke();
    }
}
