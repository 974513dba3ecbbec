// An ASP.NET Core minimal-API service over a saved model zip. README: examples/Serving.Service/README.md
using MLNetExtensions.Examples.Serving;

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
