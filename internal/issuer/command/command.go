// Package command runs the issuer as a process (`idtenant issuer`): it
// parses the flags internal/issuerconfig names, opens the state store,
// follows the configuration (a file, or the Tenant's Secrets through the
// Kubernetes API, internal/follow), reports through a Lease slot, and
// serves the protocol (internal/issuer) and metrics until its context ends.
// Process wiring lives here so the protocol package holds none.
package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/idtenant/idtenant/internal/issuer"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// Run runs `idtenant issuer`: it serves the tenant described by the
// --config document until ctx is done, reloading the document on SIGHUP and
// when the file changes (a mounted Secret is updated in place).
func Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("issuer", flag.ContinueOnError)
	configPath := fs.String("config", "", "path to the issuer configuration document (JSON, "+issuerconfig.APIVersion+")")
	listen := fs.String(issuerconfig.FlagListen, "127.0.0.1:8080", "address of the OpenID Connect endpoints")
	metricsListen := fs.String(issuerconfig.FlagMetricsListen, "127.0.0.1:9090", "address of /metrics (empty: disabled)")
	poll := fs.Duration("reload-interval", 5*time.Second, "how often to check the config file for changes")
	logJSON := fs.Bool("log-json", true, "log JSON lines (false: text)")
	var logLevel slog.Level
	fs.TextVar(&logLevel, "log-level", slog.LevelInfo, "least severe level logged: DEBUG, INFO, WARN or ERROR")
	configSecret := fs.String(issuerconfig.FlagConfigSecret, "", "follow this config Secret through the Kubernetes API instead of --config (namespace from $POD_NAMESPACE)")
	storeType := fs.String(issuerconfig.FlagStore, issuerconfig.StoreMemory, "where sessions, codes and refresh tokens live: "+issuerconfig.StoreKubernetes+" (records in the pod's namespace, shared by replicas; needs --config-secret), "+issuerconfig.StorePostgreSQL+" (the database the configuration's stateDatabase names, migrated by the operator) or "+issuerconfig.StoreMemory+" (this process only, lost on restart)")
	shutdownDelay := fs.Duration(issuerconfig.FlagShutdownDelay, issuerconfig.DefaultShutdownDelay, "after SIGTERM, keep serving this long with readiness failing, so that endpoints and load balancers stop sending new connections here; then close the listeners")
	drainTimeout := fs.Duration(issuerconfig.FlagDrainTimeout, issuerconfig.DefaultDrainTimeout, "after the listeners close, how long requests in flight (and their state writes) may take to finish")
	leaseSlots := fs.String(issuerconfig.FlagLeaseSlots, "", "PREFIX of the Lease slots (PREFIX-0, PREFIX-1, …) to report the served generation through (with --config-secret); PREFIX:COUNT limits the slots tried")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*configPath == "") == (*configSecret == "") {
		return errors.New("exactly one of --config and --config-secret is required")
	}
	if *storeType != issuerconfig.StoreMemory && *storeType != issuerconfig.StoreKubernetes && *storeType != issuerconfig.StorePostgreSQL {
		return fmt.Errorf("--store %q: want %s, %s or %s", *storeType, issuerconfig.StoreKubernetes, issuerconfig.StorePostgreSQL, issuerconfig.StoreMemory)
	}
	if *storeType == issuerconfig.StoreKubernetes && *configSecret == "" {
		return errors.New("--store=kubernetes needs --config-secret (the pod's namespace and ServiceAccount)")
	}
	logOpts := &slog.HandlerOptions{Level: logLevel}
	var handler slog.Handler = slog.NewJSONHandler(os.Stderr, logOpts)
	if !*logJSON {
		handler = slog.NewTextHandler(os.Stderr, logOpts)
	}
	log := slog.New(handler).With("component", "issuer")
	// The op library logs through the default logger: same format, and
	// its request errors carry only OAuth error codes and descriptions.
	slog.SetDefault(slog.New(handler).With("component", "oidc"))
	var (
		doc   *issuerconfig.Document
		stamp time.Time
		kube  *kubeSource
		err   error
	)
	if *configSecret != "" {
		kube, doc, err = newKubeSource(ctx, *configSecret, *leaseSlots, log)
	} else {
		doc, stamp, err = loadConfig(*configPath)
	}
	if err != nil {
		return err
	}
	// Every line names the Tenant as the manager's do ("tenant":
	// "<namespace>/<name>"), so one query finds both sides.
	log = log.With("tenant", doc.Tenant.Namespace+"/"+doc.Tenant.Name)
	if kube != nil {
		kube.log = log
	}
	slog.SetDefault(slog.Default().With("tenant", doc.Tenant.Namespace+"/"+doc.Tenant.Name))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var st store.Store
	switch *storeType {
	case issuerconfig.StoreKubernetes:
		if st, err = kube.openStore(doc); err != nil {
			return err
		}
	case issuerconfig.StorePostgreSQL:
		pg, err := openPostgres(ctx, doc, log)
		if err != nil {
			return err
		}
		defer pg.Close()
		st = pg
	}
	srv, err := issuer.New(doc, issuer.Options{Logger: log, Registry: reg, Store: st})
	if err != nil {
		return err
	}
	// Serving, the config watch and the Lease slot outlive the signal until
	// the drain has ended (shutdown below).
	serving, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	errs := make(chan error, 2)
	var servers []*http.Server
	serve := func(addr string, h http.Handler, what string) error {
		ln, err := (&net.ListenConfig{}).Listen(serving, "tcp", addr)
		if err != nil {
			return fmt.Errorf("listening for %s on %s: %w", what, addr, err)
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 32 << 10}
		servers = append(servers, hs)
		go func() { errs <- hs.Serve(ln) }()
		log.Info("listening", "endpoint", what, "address", ln.Addr().String())
		return nil
	}
	// shutdown ends the process without cutting a request: readiness fails
	// at once while every endpoint keeps answering for the shutdown delay
	// (a Pod leaves its Service's endpoints, and load balancers' targets,
	// only some time after it is told to stop); then the listeners close,
	// idle keep-alive connections close, and requests in flight finish —
	// with their state writes — within the drain timeout. A rollout or a
	// node drain thus loses no response, so no client retries a refresh
	// token whose rotation it never heard of.
	shutdown := func() {
		srv.Drain()
		// Every response from now on closes its connection, and idle
		// keep-alive connections close now: clients reconnect (to the
		// replicas endpoints still list) instead of sending a request on
		// a connection that closes under it when the listener goes.
		for _, hs := range servers {
			hs.SetKeepAlivesEnabled(false)
		}
		log.Info("shutting down: serving on while endpoints drop this replica", "delay", shutdownDelay.String())
		time.Sleep(*shutdownDelay)
		dctx, cancel := context.WithTimeout(context.Background(), *drainTimeout)
		defer cancel()
		var wg sync.WaitGroup
		for _, hs := range servers {
			wg.Go(func() {
				if err := hs.Shutdown(dctx); err != nil {
					log.Error("requests still in flight at the drain timeout were cut", "error", err, "drainTimeout", drainTimeout.String())
					_ = hs.Close()
				}
			})
		}
		wg.Wait()
		log.Info("drained: every request in flight has been answered")
	}
	if err := serve(*listen, srv, "oidc"); err != nil {
		return err
	}
	if *metricsListen != "" {
		if err := serve(*metricsListen, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), "metrics"); err != nil {
			return err
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(*poll)
	defer tick.Stop()
	gc := time.NewTicker(time.Minute)
	defer gc.Stop()
	closed := make(chan struct{})
	close(closed)
	var released <-chan struct{} = closed
	if kube != nil {
		released = kube.run(serving, srv)
	}
	reload := func(force bool) {
		if kube != nil {
			return // the Secret watch delivers new generations
		}
		st, err := os.Stat(*configPath)
		if err != nil {
			log.Error("checking issuer config", "error", err)
			return
		}
		if !force && st.ModTime().Equal(stamp) {
			return
		}
		d, newStamp, err := loadConfig(*configPath)
		if err != nil {
			log.Error("issuer config rejected; keeping the current generation", "error", err, "generation", srv.Generation())
			stamp = st.ModTime()
			return
		}
		stamp = newStamp
		if err := srv.Swap(d); err != nil {
			log.Error("issuer config rejected; keeping the current generation", "error", err, "generation", srv.Generation())
		}
	}
	for {
		select {
		case <-ctx.Done():
			shutdown()
			stopServing()
			<-released
			return nil
		case err := <-errs:
			if errors.Is(err, http.ErrServerClosed) {
				continue
			}
			return fmt.Errorf("serving: %w", err)
		case <-hup:
			reload(true)
		case <-tick.C:
			reload(false)
		case <-gc.C:
			srv.Collect()
		}
	}
}

func loadConfig(path string) (*issuerconfig.Document, time.Time, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading issuer config: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading issuer config: %w", err)
	}
	doc, err := issuerconfig.Parse(data)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("issuer config %s: %w", path, err)
	}
	return doc, st.ModTime(), nil
}
