using MLNetExtensions.ExcpCli;

return Cli.Run(args, Console.Out, Console.Error);
