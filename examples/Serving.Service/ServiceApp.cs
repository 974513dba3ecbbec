using Microsoft.ML.Data;
using MLNetExtensions.Evaluators.Translation.Metrics;

namespace MLNetExtensions.Examples.Serving;

/// <summary>Request body of <c>POST /metrics/translation</c>.</summary>
public sealed record TranslationMetricsRequest(string[] Hypotheses, string[] References);

/// <summary>Answer of <c>POST /metrics/translation</c>: sacreBLEU-exact corpus scores.</summary>
public sealed record TranslationMetricsResponse(double Bleu, string BleuSignature, double ChrF, string ChrFSignature);

/// <summary>
/// The service: <c>GET /health</c>, <c>POST /predict</c> (an image upload, raw body or multipart field <c>file</c>,
/// → class and scores) and <c>POST /metrics/translation</c> (BLEU and chrF of hypotheses against references).
/// The model loads once at start; ASP.NET Core drains requests in flight on shutdown (SIGTERM/Ctrl-C) before the
/// host disposes the model.
/// </summary>
public static class ServiceApp
{
    /// <summary>Builds the app; options: <c>--model PATH</c> (required), <c>--urls URL</c>, <c>--pool N</c>.</summary>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        string model = builder.Configuration["model"] ?? throw new ArgumentException("--model PATH (a saved image-classifier zip) is required.");
        int pool = int.TryParse(builder.Configuration["pool"], out var p) && p > 0 ? p : Environment.ProcessorCount * 2;
        builder.Services.AddSingleton(_ => new ImageClassifierHost(model, pool));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        var host = app.Services.GetRequiredService<ImageClassifierHost>(); // load before serving: a bad model fails the start

        app.MapGet("/health", () => Results.Ok(new { status = "ok", model = Path.GetFileName(host.ModelPath), classes = host.ClassNames }));

        app.MapPost("/predict", async (HttpRequest request, CancellationToken ct) =>
        {
            using var body = new MemoryStream();
            if (request.HasFormContentType)
            {
                var form = await request.ReadFormAsync(ct);
                var file = form.Files["file"] ?? form.Files.FirstOrDefault();
                if (file is null) return Results.BadRequest(new { error = "multipart upload without a 'file' field" });
                await file.CopyToAsync(body, ct);
            }
            else await request.Body.CopyToAsync(body, ct);
            if (body.Length == 0) return Results.BadRequest(new { error = "empty body; POST the image bytes (PNG/JPEG/BMP)" });
            body.Position = 0;
            MLImage image;
            try { image = MLImage.CreateFromStream(body); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException or IOException)
            {
                return Results.BadRequest(new { error = $"the body is not a decodable image ({e.Message})" });
            }
            using (image)
            {
                try { return Results.Ok(host.Predict(image)); }
                catch (Exception e) when (e is ArgumentException or InvalidDataException)
                {
                    return Results.BadRequest(new { error = e.Message });
                }
            }
        });

        app.MapPost("/metrics/translation", (TranslationMetricsRequest r) =>
        {
            if (r.Hypotheses is null || r.References is null || r.Hypotheses.Length != r.References.Length || r.Hypotheses.Length == 0)
                return Results.BadRequest(new { error = "hypotheses and references must be non-empty arrays of equal length" });
            var refs = new[] { (IReadOnlyList<string?>)r.References };
            var bleu = new Bleu().CorpusScore(r.Hypotheses, refs);
            var chrf = new ChrF().CorpusScore(r.Hypotheses, refs);
            return Results.Ok(new TranslationMetricsResponse(bleu.Score, bleu.Signature, chrf.Score, chrf.Signature));
        });

        // The model goes after Kestrel has stopped accepting and finished the requests in flight.
        app.Lifetime.ApplicationStopped.Register(host.Dispose);
        return app;
    }
}
