package envfile

import (
	"fmt"
)

// File is the content of config.json. Built-in envs are not stored in it, so
// that a new binary's built-in addresses take effect without editing the file;
// only their sessions are.
type File struct {
	// Current is the env commands use when neither --env nor MICRO_ENV names
	// one; empty means local.
	Current string `json:"current,omitempty"`
	// Envs are the envs added with 'micro env add', by name.
	Envs map[string]Env `json:"envs,omitempty"`
	// Sessions are the tokens of each env logged in to, by env name.
	Sessions map[string]Session `json:"sessions,omitempty"`

	builtins []Env
}

// CurrentName returns the name of the current env.
func (f *File) CurrentName() string {
	if f.Current == "" {
		return Local
	}
	return f.Current
}

// Env returns the env called name.
func (f *File) Env(name string) (Env, error) {
	for _, b := range f.builtins {
		if b.Name == name {
			return b, nil
		}
	}
	env, ok := f.Envs[name]
	if !ok {
		return Env{}, fmt.Errorf("env %q: %w", name, ErrUnknownEnv)
	}
	env.Name = name
	return env, nil
}

// List returns every env: the built-ins first, then the added ones by name.
func (f *File) List() []Env {
	envs := append([]Env(nil), f.builtins...)
	for _, name := range sortedKeys(f.Envs) {
		env := f.Envs[name]
		env.Name = name
		envs = append(envs, env)
	}
	return envs
}

// Use makes the env called name current.
func (f *File) Use(name string) error {
	if _, err := f.Env(name); err != nil {
		return err
	}
	f.Current = name
	return nil
}

// Add defines a new env. The caller resolves CAFile to an absolute path, so
// that the env works from any directory.
func (f *File) Add(env Env) error {
	if err := ValidateName(env.Name); err != nil {
		return err
	}
	if err := ValidateAddress(env.Address); err != nil {
		return err
	}
	if _, err := f.Env(env.Name); err == nil {
		return fmt.Errorf("env %q: %w", env.Name, ErrEnvExists)
	}
	if f.Envs == nil {
		f.Envs = map[string]Env{}
	}
	env.Builtin = false
	f.Envs[env.Name] = env
	return nil
}

// Delete removes an added env and its session. Deleting the current env makes
// local current again, so that the next command has somewhere to go.
func (f *File) Delete(name string) error {
	env, err := f.Env(name)
	if err != nil {
		return err
	}
	if env.Builtin {
		return fmt.Errorf("env %q: %w", name, ErrBuiltin)
	}
	delete(f.Envs, name)
	delete(f.Sessions, name)
	if f.Current == name {
		f.Current = ""
	}
	return nil
}

// Session returns the session of the env called name, if logged in.
func (f *File) Session(name string) (Session, bool) {
	s, ok := f.Sessions[name]
	return s, ok && s.AccessToken != ""
}

// SetSession records the tokens of a login or refresh to the env called name.
func (f *File) SetSession(name string, s Session) {
	if f.Sessions == nil {
		f.Sessions = map[string]Session{}
	}
	f.Sessions[name] = s
}

// ForgetSession drops the tokens of the env called name.
func (f *File) ForgetSession(name string) {
	delete(f.Sessions, name)
}
