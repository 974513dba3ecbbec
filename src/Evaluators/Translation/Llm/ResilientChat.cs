using System.ClientModel;
using System.Net;
using Microsoft.Extensions.AI;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace MLNetExtensions.Evaluators.Translation.Llm;

/// <summary>Outcome of one logical chat request after retries.</summary>
/// <param name="Text">Response text, or null when every attempt failed.</param>
/// <param name="Attempts">HTTP attempts made (1 + retries).</param>
/// <param name="Error">Why it failed (last error), or null.</param>
public sealed record ChatOutcome(string? Text, int Attempts, string? Error)
{
    /// <summary>True when a response arrived.</summary>
    public bool Succeeded => Text is not null;
}

/// <summary>
/// Sends chat requests through a Polly pipeline: per-attempt timeout inside an exponential-backoff retry on
/// transient failures (timeouts, 408, 429, 5xx, connection errors, a 200 with an unparsable body; Retry-After honoured
/// up to MaxDelay).
/// Permanent errors (400, 401, 404 …) fail at once. Never throws except when the caller cancels.
/// </summary>
public sealed class ResilientChat
{
    private readonly IChatClient _client;
    private readonly LlmClientOptions _options;
    private readonly ResiliencePipeline _pipeline;
    private int _attempts;

    /// <summary>HTTP requests sent so far by this instance, including those of calls that were cancelled or failed.</summary>
    public int Attempts => Volatile.Read(ref _attempts);

    /// <summary>Wraps <paramref name="client"/> with the resilience settings of <paramref name="options"/>.</summary>
    public ResilientChat(IChatClient client, LlmClientOptions options)
    {
        _client = client ?? throw new ArgumentNullException(nameof(client));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        var builder = new ResiliencePipelineBuilder();
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = options.UseJitter,
                Delay = options.BaseDelay,
                MaxDelay = options.MaxDelay,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && IsTransient(e, args.Context.CancellationToken)),
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Exception, options.MaxDelay)),
            });
        }
        builder.AddTimeout(options.RequestTimeout);
        _pipeline = builder.Build();
    }

    /// <summary>Sends <paramref name="messages"/>; returns the text or a failure description.</summary>
    public async Task<ChatOutcome> CompleteAsync(IList<ChatMessage> messages, bool json, CancellationToken cancellationToken)
    {
        int attempts = 0;
        try
        {
            var text = await _pipeline.ExecuteAsync(async token =>
            {
                Interlocked.Increment(ref attempts);
                Interlocked.Increment(ref _attempts);
                var response = await _client.GetResponseAsync(messages, _options.CreateChatOptions(json), token).ConfigureAwait(false);
                return response.Text ?? "";
            }, cancellationToken).ConfigureAwait(false);
            return new ChatOutcome(text, attempts, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            return new ChatOutcome(null, attempts, Describe(e, attempts));
        }
    }

    internal static bool IsTransient(Exception e, CancellationToken callerToken) => e switch
    {
        _ when callerToken.IsCancellationRequested => false,
        TimeoutRejectedException => true,
        ClientResultException c => c.Status is 0 or 408 or 409 or 429 or >= 500,
        HttpRequestException h => h.StatusCode is null or HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int?)h.StatusCode >= 500,
        OperationCanceledException => true, // an HTTP-level timeout, not the caller's cancellation
        // A 200 whose body is cut off or is an HTML error page (a proxy, a load balancer) fails to parse in the SDK:
        // the request may well succeed when sent again, so it gets the same bounded retries.
        System.Text.Json.JsonException => true,
        FormatException => true,
        IOException => true,
        _ => false,
    };

    private static TimeSpan? RetryAfter(Exception? e, TimeSpan max)
    {
        if (e is not ClientResultException c) return null;
        var headers = c.GetRawResponse()?.Headers;
        if (headers is null || !headers.TryGetValue("Retry-After", out var value) || string.IsNullOrWhiteSpace(value)) return null;
        if (double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds))
            return TimeSpan.FromSeconds(Math.Clamp(seconds, 0, max.TotalSeconds));
        if (DateTimeOffset.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at))
        {
            var d = at - DateTimeOffset.UtcNow;
            return d < TimeSpan.Zero ? TimeSpan.Zero : d > max ? max : d;
        }
        return null;
    }

    private static string Describe(Exception e, int attempts)
    {
        var what = e switch
        {
            TimeoutRejectedException t => $"timed out after {t.Timeout.TotalSeconds:0.###} s",
            ClientResultException c when c.Status != 0 => $"HTTP {c.Status}: {FirstLine(c.Message)}",
            _ => $"{e.GetType().Name}: {FirstLine(e.Message)}",
        };
        return $"request failed after {attempts} attempt{(attempts == 1 ? "" : "s")} ({what})";
    }

    private static string FirstLine(string s)
    {
        var line = s.Split('\n')[0].Trim();
        return line.Length > 200 ? line[..200] + "…" : line;
    }
}
