using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MLNetExtensions.Tests.Translation;

/// <summary>A request as the server saw it.</summary>
public sealed record SeenRequest(string Path, string Model, string Prompt, int Ordinal);

/// <summary>What the script answers: a chat completion with <paramref name="Content"/>, or an error status.</summary>
public sealed record ScriptedReply(string? Content, int Status = 200, TimeSpan? Delay = null, string? RetryAfter = null)
{
    /// <summary>A raw 200 body sent as is (a truncated JSON completion, a proxy's HTML page), with its content type.</summary>
    public string? RawBody { get; init; }
    public string RawContentType { get; init; } = "application/json";
    public static ScriptedReply Raw(string body, string contentType = "application/json") => new(null) { RawBody = body, RawContentType = contentType };
    public static ScriptedReply Ok(string content) => new(content);
    public static ScriptedReply Error(int status, string? retryAfter = null) => new(null, status, null, retryAfter);
    public static ScriptedReply Hang(TimeSpan delay) => new("{}", 200, delay);
}

/// <summary>
/// OpenAI-compatible chat-completions server on 127.0.0.1 (free port, loopback only) answering from a script,
/// so tests exercise the real OpenAI client, real HTTP and the real retry/timeout paths.
/// </summary>
public sealed class LoopbackOpenAIServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<SeenRequest, ScriptedReply> _script;
    private readonly CancellationTokenSource _stop = new();
    private int _ordinal;

    public LoopbackOpenAIServer(Func<SeenRequest, ScriptedReply> script)
    {
        _script = script;
        for (int tries = 0; ; tries++)
        {
            var port = FreePort();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try { _listener.Start(); Endpoint = new Uri($"http://127.0.0.1:{port}/v1"); break; }
            catch (HttpListenerException) when (tries < 5) { }
        }
        _ = Task.Run(LoopAsync);
    }

    public Uri Endpoint { get; private set; } = null!;
    public ConcurrentQueue<SeenRequest> Requests { get; } = new();
    public int Count => Requests.Count;

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch { return; }
            _ = Task.Run(() => HandleAsync(ctx));
        }
    }

    private async Task HandleAsync(HttpListenerContext ctx)
    {
        try
        {
            using var reader = new StreamReader(ctx.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var json = JsonNode.Parse(body)!;
            var prompt = string.Join("\n", json["messages"]!.AsArray().Select(m => m!["content"] is JsonValue v ? v.GetValue<string>()
                : string.Join("", m!["content"]!.AsArray().Select(p => p!["text"]?.GetValue<string>() ?? ""))));
            var req = new SeenRequest(ctx.Request.Url!.AbsolutePath, json["model"]?.GetValue<string>() ?? "", prompt, Interlocked.Increment(ref _ordinal));
            Requests.Enqueue(req);
            var reply = _script(req);
            if (reply.Delay is { } d) await Task.Delay(d, _stop.Token);
            ctx.Response.StatusCode = reply.Status;
            ctx.Response.ContentType = reply.RawBody != null ? reply.RawContentType : "application/json";
            if (reply.RetryAfter is not null) ctx.Response.Headers["Retry-After"] = reply.RetryAfter;
            var payload = reply.RawBody ?? (reply.Status == 200
                ? JsonSerializer.Serialize(new
                {
                    id = "chatcmpl-" + req.Ordinal, @object = "chat.completion", created = 1700000000, model = req.Model,
                    choices = new[] { new { index = 0, message = new { role = "assistant", content = reply.Content }, finish_reason = "stop" } },
                    usage = new { prompt_tokens = 10, completion_tokens = 10, total_tokens = 20 },
                })
                : JsonSerializer.Serialize(new { error = new { message = $"scripted error {reply.Status}", type = "server_error", code = (string?)null } }));
            var bytes = Encoding.UTF8.GetBytes(payload);
            ctx.Response.ContentLength64 = bytes.Length;
            await ctx.Response.OutputStream.WriteAsync(bytes, _stop.Token);
            ctx.Response.Close();
        }
        catch
        {
            // Client gave up (timeout test) or the server is stopping.
            try { ctx.Response.Abort(); } catch { }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        try { _listener.Stop(); _listener.Close(); } catch { }
    }
}
