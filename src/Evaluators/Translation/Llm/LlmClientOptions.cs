using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using OpenAI;

namespace MLNetExtensions.Evaluators.Translation.Llm;

/// <summary>
/// Connection, decoding and resilience settings shared by the judge and the translator.
/// Any OpenAI-compatible endpoint works (OpenAI, Azure OpenAI v1, vLLM, llama.cpp, Ollama, LM Studio …).
/// </summary>
public class LlmClientOptions
{
    /// <summary>Environment variable for the endpoint base URL (e.g. <c>http://localhost:8000/v1</c>); falls back to <c>OPENAI_BASE_URL</c>.</summary>
    public const string EndpointVariable = "MLNETEXT_LLM_ENDPOINT";
    /// <summary>Environment variable for the API key; falls back to <c>OPENAI_API_KEY</c>.</summary>
    public const string ApiKeyVariable = "MLNETEXT_LLM_API_KEY";
    /// <summary>Environment variable for the model name; falls back to <c>OPENAI_MODEL</c>.</summary>
    public const string ModelVariable = "MLNETEXT_LLM_MODEL";

    /// <summary>Base URL of the OpenAI-compatible API; null means api.openai.com.</summary>
    public Uri? Endpoint { get; set; }
    /// <summary>API key (local servers usually accept any value).</summary>
    public string? ApiKey { get; set; }
    /// <summary>Model name sent with each request.</summary>
    public string Model { get; set; } = "gpt-4o-mini";
    /// <summary>Sampling temperature; 0 by default for reproducible judgements.</summary>
    public float Temperature { get; set; }
    /// <summary>Optional cap on generated tokens.</summary>
    public int? MaxOutputTokens { get; set; }
    /// <summary>Optional sampling seed, for servers that honour it.</summary>
    public long? Seed { get; set; }
    /// <summary>Maximum requests in flight at once.</summary>
    public int MaxConcurrency { get; set; } = 4;
    /// <summary>Retries after the first attempt on timeouts, 408, 429, 5xx and connection failures.</summary>
    public int MaxRetries { get; set; } = 4;
    /// <summary>First retry delay; doubles each retry (with jitter) up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(2);
    /// <summary>Upper bound of one retry delay, also for a server's Retry-After.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(60);
    /// <summary>Timeout of one attempt.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(180);
    /// <summary>Randomise backoff delays (decorrelated jitter) so parallel clients do not retry in lock-step.</summary>
    public bool UseJitter { get; set; } = true;

    /// <summary>True when an endpoint or an API key is set (otherwise there is nothing to call).</summary>
    public bool IsConfigured => Endpoint is not null || !string.IsNullOrEmpty(ApiKey);

    /// <summary>Fills endpoint, key and model from the environment (values already set are kept when a variable is absent).</summary>
    public void ReadEnvironment()
    {
        var endpoint = Env(EndpointVariable) ?? Env("OPENAI_BASE_URL");
        if (endpoint is not null)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri))
                throw new ArgumentException($"{EndpointVariable}/OPENAI_BASE_URL must be an absolute URL such as http://localhost:8000/v1; got '{endpoint}'.");
            Endpoint = uri;
        }
        ApiKey = Env(ApiKeyVariable) ?? Env("OPENAI_API_KEY") ?? ApiKey;
        Model = Env(ModelVariable) ?? Env("OPENAI_MODEL") ?? Model;
    }

    /// <summary>How to configure an endpoint, for messages to users.</summary>
    public static string ConfigurationHelp =>
        $"Set {EndpointVariable} (an OpenAI-compatible base URL, e.g. http://localhost:8000/v1 or https://api.openai.com/v1), " +
        $"{ApiKeyVariable} (API key; any value for local servers) and {ModelVariable} (model name). " +
        "OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL are read as fallbacks.";

    private static string? Env(string name)
    {
        var v = Environment.GetEnvironmentVariable(name);
        return string.IsNullOrWhiteSpace(v) ? null : v.Trim();
    }

    /// <summary>
    /// Builds an <see cref="IChatClient"/> over the official OpenAI .NET client. The SDK's own retries are switched
    /// off because retries, backoff and per-attempt timeouts are applied by the Polly pipeline of the caller.
    /// </summary>
    public IChatClient CreateChatClient()
    {
        if (!IsConfigured) throw new InvalidOperationException("No LLM endpoint configured. " + ConfigurationHelp);
        var clientOptions = new OpenAIClientOptions
        {
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = RequestTimeout + TimeSpan.FromSeconds(5),
        };
        if (Endpoint is not null) clientOptions.Endpoint = Endpoint;
        var client = new OpenAIClient(new ApiKeyCredential(string.IsNullOrEmpty(ApiKey) ? "no-key" : ApiKey), clientOptions);
        return client.GetChatClient(Model).AsIChatClient();
    }

    /// <summary>Chat options from the decoding settings.</summary>
    public ChatOptions CreateChatOptions(bool json) => new()
    {
        ModelId = Model,
        Temperature = Temperature,
        MaxOutputTokens = MaxOutputTokens,
        Seed = Seed,
        ResponseFormat = json ? ChatResponseFormat.Json : null,
    };
}
