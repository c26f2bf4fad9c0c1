package auth

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"

	"m3o.dev/pkg/platform"
)

// Words of generated namespace names: an adjective, an animal and a thing,
// as in brave-otter-lamp. Short, common, lower-case ASCII words that read
// well together and spell nothing unkind: about 800,000 names in all.
var (
	nameAdjectives = strings.Fields(`
		able amber ample bold brave brief bright brisk calm clean clear clever
		cool cosy crisp curious daring deft eager early easy even fair fancy
		fast fine firm fleet fond free fresh gentle glad golden grand green
		happy hardy hazy honest humble jolly keen kind large lively loyal lucky
		mellow merry mighty mild modest neat nimble noble novel patient plain
		polite proud quick quiet rapid ready regal rosy royal rustic safe sage
		sharp shiny silent silver simple sleek smart smooth snowy solid sound
		spry steady still sturdy sunny super swift tidy tranquil true upbeat
		vast vivid warm wise witty young zesty zippy`)
	nameAnimals = strings.Fields(`
		badger beaver bison bobcat camel cheetah condor coyote crane cricket
		deer dingo dolphin dove eagle egret falcon ferret finch flamingo fox
		gazelle gecko gibbon goose gopher heron hippo hornet ibis iguana impala
		jackal jaguar kestrel kiwi koala lemur leopard lion llama lynx magpie
		marmot marten meerkat mink moose newt ocelot okapi orca osprey otter owl
		panda panther parrot pelican penguin pigeon puffin puma quail rabbit
		raven robin salmon seal shark sparrow squid stork swallow swan tapir
		tiger toucan trout turtle viper walrus weasel whale wolf wombat wren
		yak zebra bee crab mole hare`)
	nameThings = strings.Fields(`
		anchor arch arrow atlas badge banner barn basket beacon bell bench
		blossom bridge brook bucket button cabin candle canyon castle cedar
		chimney cliff cloud comet compass coral cottage creek crown crystal
		delta dune ember falls feather fern field flame forest fountain garden
		glade grove harbor hill island ivy kettle lagoon lake lamp lantern leaf
		meadow mesa mill mirror moon mountain oak orchard pebble pier pine
		planet pond prairie quill rain reef ridge river rock sail shore sky
		spring star stone summit sun temple tower trail valley willow wind`)
)

// newNamespaceName returns a random three-word namespace name, such as
// brave-otter-lamp.
func newNamespaceName() (string, error) {
	var words [3]string
	for i, list := range [][]string{nameAdjectives, nameAnimals, nameThings} {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
		if err != nil {
			return "", fmt.Errorf("namespace name: %w", err)
		}
		words[i] = list[n.Int64()]
	}
	name := strings.Join(words[:], "-")
	if err := platform.ValidNamespace(name); err != nil {
		return "", fmt.Errorf("generated namespace name %q: %w", name, err)
	}
	return name, nil
}
