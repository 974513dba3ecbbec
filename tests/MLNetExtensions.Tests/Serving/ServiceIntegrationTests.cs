using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Examples.Serving;
using Xunit;

namespace MLNetExtensions.Tests.Serving;

/// <summary>Issue 13: the ASP.NET Core service on 127.0.0.1 answers concurrent requests exactly as a direct Transform.</summary>
public sealed class ServiceIntegrationTests : IClassFixture<ServingFixture>
{
    private readonly ServingFixture _f;
    public ServiceIntegrationTests(ServingFixture f) => _f = f;

    private sealed class UploadRow { [Microsoft.ML.Transforms.Image.ImageType(1, 1)] public MLImage? Image { get; set; } }

    // What the model says for the decoded uploads, by one batched Transform in this process.
    private float[][] DirectScores()
    {
        var ml = new MLContext().RegisterMLNetExtensions();
        var model = ml.Model.Load(_f.ModelPath, out _);
        var images = _f.Pngs.Select(p => new UploadRow { Image = MLImage.CreateFromStream(new MemoryStream(p)) }).ToArray();
        var def = SchemaDefinition.Create(typeof(UploadRow));
        var type = new Microsoft.ML.Transforms.Image.ImageDataViewType(28, 28);
        ImageClassifierHost.RegisterImageType(type);
        def["Image"].ColumnType = type;
        var scored = model.Transform(ml.Data.LoadFromEnumerable(images, def));
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        (model as IDisposable)?.Dispose();
        return scores;
    }

    [Fact]
    public async Task ConcurrentRequestsAnswerAsDirectTransform_HealthAndMetricsWork_ShutdownIsGraceful()
    {
        var expected = DirectScores();
        await using var app = ServiceApp.Build(new[] { "--model", _f.ModelPath, "--urls", "http://127.0.0.1:0", "--pool", "4" });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Assert.StartsWith("http://127.0.0.1:", address);
        using var http = new HttpClient { BaseAddress = new Uri(address) };

        var health = await http.GetFromJsonAsync<HealthReply>("/health");
        Assert.Equal("ok", health!.Status);
        Assert.Equal(10, health.Classes.Length);

        // 8 clients × 3 passes over the uploads, all at once.
        var tasks = Enumerable.Range(0, 8).SelectMany(c => Enumerable.Range(0, 3 * _f.Pngs.Count).Select(async k =>
        {
            int i = (k + c * 7) % _f.Pngs.Count;
            using var content = new ByteArrayContent(_f.Pngs[i]);
            var resp = await http.PostAsync("/predict", content);
            Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
            var p = (await resp.Content.ReadFromJsonAsync<PredictionReply>())!;
            return (i, p);
        })).ToArray();
        var answers = await Task.WhenAll(tasks);
        var first = new Dictionary<int, float[]>();
        foreach (var (i, p) in answers)
        {
            var scores = health.Classes.Select(n => p.Scores[n]).ToArray();
            // Batch-1 forwards vs one batched Transform differ only by summation order (≤ 1e-7 seen).
            for (int k = 0; k < scores.Length; k++) Assert.InRange(Math.Abs(scores[k] - expected[i][k]), 0, 1e-6);
            Assert.Equal(Array.IndexOf(expected[i], expected[i].Max()), p.ClassIndex);
            // Every request for the same upload gets the very same bits, whichever engine and thread served it.
            if (first.TryGetValue(i, out var f)) Assert.Equal(f, scores); else first[i] = scores;
        }

        // Bad uploads are 400 with a message, not 500.
        var bad = await http.PostAsync("/predict", new ByteArrayContent(new byte[] { 1, 2, 3 }));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("not a decodable image", await bad.Content.ReadAsStringAsync());

        // The second component: sacreBLEU-exact metrics.
        var m = await http.PostAsJsonAsync("/metrics/translation", new TranslationMetricsRequest(
            new[] { "the cat sat on the mat" }, new[] { "the cat sat on the mat" }));
        var metrics = (await m.Content.ReadFromJsonAsync<TranslationMetricsResponse>())!;
        Assert.Equal(100.0, metrics.Bleu, 6);

        // Graceful shutdown: requests in flight when stopping still complete.
        var inFlight = Enumerable.Range(0, 16).Select(i => http.PostAsync("/predict", new ByteArrayContent(_f.Pngs[i % _f.Pngs.Count]))).ToArray();
        await Task.Delay(20);
        await app.StopAsync();
        foreach (var t in inFlight)
        {
            try { Assert.Equal(HttpStatusCode.OK, (await t).StatusCode); }
            catch (HttpRequestException) { } // not yet accepted when Kestrel stopped listening: refused, never half-answered
        }
    }

    private sealed record HealthReply(string Status, string Model, string[] Classes);
    private sealed record PredictionReply(string Label, int ClassIndex, Dictionary<string, float> Scores);
}
