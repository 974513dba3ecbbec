// An ASP.NET Core minimal-API service over a saved model zip. README: examples/Serving.Service/README.md
using System.CommandLine;
using MLNetExtensions.CommandLine;
using MLNetExtensions.Examples.Serving;
using static MLNetExtensions.CommandLine.CommandLineApp;

var modelO = new Option<string?>("--model") { Description = "A saved image-classifier zip (e.g. out/tinyvim-fashion-mnist.zip).", Required = true }.ExistingFile();
var urlsO = Defaulted("--urls", "Where to listen.", "http://localhost:5000");
var poolO = Defaulted("--pool", "Prediction engines kept for concurrent requests.", Environment.ProcessorCount * 2);
var root = new RootCommand("Serve a saved model: GET /health, POST /predict (an image), POST /metrics/translation. " +
    "Other ASP.NET Core settings can be given as --Key=value. " + ExitCodesHelp) { modelO, urlsO, poolO };
root.TreatUnmatchedTokensAsErrors = false; // the remaining --Key=value settings go to the web host's configuration
if (CommandLineApp.Parse(root, args, out int exit) is null) return exit;
try
{
    await ServiceApp.Build(args).RunAsync();
    return 0;
}
catch (Exception e) when (e is ArgumentException or FileNotFoundException or InvalidDataException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine("usage: dotnet run -c Release --project examples/Serving.Service -- --model out/tinyvim-fashion-mnist.zip [--urls http://127.0.0.1:5080] [--pool N]");
    return 1;
}
